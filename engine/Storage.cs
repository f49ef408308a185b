namespace Vicreg.Engine;

/// <summary>A buffer from a backend's caching allocator, shared by a tensor and its views and
/// returned to the cache when the last of them is disposed.</summary>
public sealed class Storage
{
    /// <summary>The backend that allocated the buffer.</summary>
    public IBackend Backend { get; }
    /// <summary>The buffer's address (0 once released).</summary>
    public nint Pointer { get; private set; }
    /// <summary>The buffer's size in bytes.</summary>
    public long Bytes { get; }
    private int _references = 1;

    internal Storage(IBackend backend, long bytes)
    {
        Backend = backend;
        Bytes = bytes;
        Pointer = backend.Allocate(bytes);
    }

    internal void AddReference()
    {
        if (Pointer == 0) throw new ObjectDisposedException(nameof(Storage), "a view of a released tensor was requested");
        _references++;
    }

    internal void Release()
    {
        if (--_references > 0 || Pointer == 0) return;
        Backend.Free(Pointer, Bytes);
        Pointer = 0;
    }

    /// <summary>True once the buffer returned to the cache.</summary>
    public bool IsReleased => Pointer == 0;
}
