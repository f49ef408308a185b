using Vicreg.Engine.Backends.Cuda.Native;

namespace Vicreg.Engine.Backends.Cuda;

/// <summary>
/// Device memory recycled by size (see <see cref="CachingAllocator"/>). Reuse is safe without events because
/// every kernel runs on the backend's one compute stream: a buffer freed and handed out again is only touched
/// by work queued after the work that used it. When the device is full the cache is returned to the driver (after
/// the queued work, which may still use cached blocks, has finished) and the allocation retried once; if that fails
/// too the error says how much was asked and how much is free.
/// </summary>
internal sealed unsafe class CudaDeviceAllocator(CudaBackend backend) : CachingAllocator
{
    protected override nint AllocateFromSystem(long bytes)
    {
        backend.MakeCurrent();
        nint p;
        int status = CudaDriver.cuMemAlloc(&p, (nuint)bytes);
        if (status == CudaDriver.ErrorOutOfMemory)
        {
            backend.EmptyCache();
            status = CudaDriver.cuMemAlloc(&p, (nuint)bytes);
        }
        if (status == CudaDriver.ErrorOutOfMemory)
        {
            nuint free = 0, total = 0;
            CudaDriver.cuMemGetInfo(&free, &total);
            var s = Statistics;
            throw new CudaOutOfMemoryException(
                $"CUDA out of memory on {backend.Description}: asked for {Bytes(bytes)}, {Bytes((long)free)} free of {Bytes((long)total)} " +
                $"(this process holds {Bytes(s.BytesInUse)} in tensors); try a smaller --batch-size");
        }
        CudaDriver.Check(status, $"cuMemAlloc_v2({bytes} bytes)");
        return p;
    }

    protected override void FreeToSystem(nint pointer, long bytes)
    {
        backend.MakeCurrent();
        CudaDriver.Check(CudaDriver.cuMemFree(pointer), "cuMemFree_v2");
    }

    public static string Bytes(long bytes) =>
        bytes >= 1L << 30 ? $"{bytes / (double)(1L << 30):0.00} GiB" : bytes >= 1L << 20 ? $"{bytes / (double)(1L << 20):0.0} MiB" : $"{bytes} B";
}
