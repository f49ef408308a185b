namespace Vicreg.Engine;

/// <summary>A buffer from a backend's caching allocator, shared by a tensor and its views and
/// returned to the cache when the last of them is disposed. The object itself is reused (<see cref="Recycler{T}"/>)
/// once the tensor that made it is recycled.</summary>
public sealed class Storage
{
    /// <summary>The backend that allocated the buffer.</summary>
    public IBackend Backend { get; private set; } = null!;
    /// <summary>The buffer's address (0 once released).</summary>
    public nint Pointer { get; private set; }
    /// <summary>The buffer's size in bytes.</summary>
    public long Bytes { get; private set; }
    private int _references;

    private Storage() { }

    /// <summary>A buffer of <paramref name="bytes"/> from the backend's allocator, in a recycled object when there is one.</summary>
    internal static Storage Allocate(IBackend backend, long bytes)
    {
        var pointer = backend.Allocate(bytes);
        var storage = Recycler<Storage>.Take() ?? new Storage();
        storage.Backend = backend;
        storage.Bytes = bytes;
        storage.Pointer = pointer;
        storage._references = 1;
        return storage;
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

    /// <summary>Gives a released storage object back for reuse (only the tensor that allocated it does).</summary>
    internal void Recycle()
    {
        if (!IsReleased) throw new InvalidOperationException("a storage still in use was recycled");
        Recycler<Storage>.Return(this);
    }
}
