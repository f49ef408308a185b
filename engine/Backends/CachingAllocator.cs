namespace Vicreg.Engine.Backends;

/// <summary>
/// Recycles buffers by size class so that a steady training loop never goes back to the system.
/// Sizes are rounded up (to 512 bytes up to 1 MiB, above that to 1/16 of the next power of two), which bounds the waste at 12.5% while letting slightly different requests share.
/// Subclasses supply the raw allocation (aligned host memory, or device memory).
/// Not thread-safe: a backend is driven from one thread (its kernels may fan out internally).
/// </summary>
public abstract class CachingAllocator : IDisposable
{
    private readonly Dictionary<long, Stack<nint>> _free = new();
    private long _inUse, _cached, _systemAllocations, _cacheHits;
    private readonly object _lock = new();

    /// <summary>Gets <paramref name="bytes"/> (already rounded) of fresh memory; returns 0 on failure, and <see cref="Allocate"/> then releases the cache and retries once.</summary>
    protected abstract nint AllocateFromSystem(long bytes);
    /// <summary>Gives a buffer of <paramref name="bytes"/> (its rounded size) back to the system.</summary>
    protected abstract void FreeToSystem(nint pointer, long bytes);

    /// <summary>The size class of a request: 512-byte steps up to 1 MiB, then 1/16 of the next power of two (at most 12.5% waste); 0 or less counts as 1.</summary>
    public static long RoundUp(long bytes)
    {
        if (bytes <= 0) bytes = 1;
        if (bytes <= 1 << 20) return (bytes + 511) & ~511L;
        long power = 1L << (64 - (int)long.LeadingZeroCount(bytes - 1));
        long step = power / 16;
        return (bytes + step - 1) / step * step;
    }

    /// <summary>A buffer of at least <paramref name="bytes"/>, from the cache when one of its size class is free, else from the system
    /// (releasing the cache and retrying once if that fails). The caller owns it until <see cref="Free"/>.</summary>
    public nint Allocate(long bytes)
    {
        long size = RoundUp(bytes);
        lock (_lock)
        {
            if (_free.TryGetValue(size, out var stack) && stack.Count > 0)
            {
                _cached -= size;
                _inUse += size;
                _cacheHits++;
                return stack.Pop();
            }
        }
        nint p = AllocateFromSystem(size);
        if (p == 0)
        {
            // Give the cache back and try once more before reporting the failure.
            ReleaseCached();
            p = AllocateFromSystem(size);
        }
        lock (_lock)
        {
            _systemAllocations++;
            _inUse += size;
        }
        return p;
    }

    /// <summary>Parks the buffer in the cache under its size class (pass the same <paramref name="bytes"/> as to <see cref="Allocate"/>); the system gets it back only on <see cref="ReleaseCached"/> or <see cref="Dispose"/>.</summary>
    public void Free(nint pointer, long bytes)
    {
        long size = RoundUp(bytes);
        lock (_lock)
        {
            if (!_free.TryGetValue(size, out var stack)) _free[size] = stack = new Stack<nint>();
            stack.Push(pointer);
            _inUse -= size;
            _cached += size;
        }
    }

    /// <summary>Returns every cached buffer to the system.</summary>
    public void ReleaseCached()
    {
        lock (_lock)
        {
            foreach (var (size, stack) in _free)
                while (stack.Count > 0) FreeToSystem(stack.Pop(), size);
            _cached = 0;
        }
    }

    /// <summary>A snapshot of the bytes in use and cached, system allocations and cache hits.</summary>
    public AllocatorStatistics Statistics
    {
        get { lock (_lock) return new AllocatorStatistics(_inUse, _cached, _systemAllocations, _cacheHits); }
    }

    /// <summary>Returns the cached buffers to the system; buffers still in use are not tracked and stay the caller's to free.</summary>
    public void Dispose()
    {
        ReleaseCached();
        GC.SuppressFinalize(this);
    }
}
