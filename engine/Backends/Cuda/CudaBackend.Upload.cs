using Vicreg.Engine.Backends.Cuda.Native;

namespace Vicreg.Engine.Backends.Cuda;

/// <summary>
/// Batch uploads through pinned host memory on a separate copy stream, so that the transfer of the next
/// batch overlaps the compute of the current one. Two pinned staging buffers alternate: the host fills one
/// while the DMA engine may still be reading the other.
/// </summary>
public sealed unsafe partial class CudaBackend
{
    private struct StagingSlot
    {
        public nint Host;
        public long Capacity;
        public nint Done;      // recorded on the copy stream after the copy out of this slot
        public bool Pending;
    }

    private readonly StagingSlot[] _staging = new StagingSlot[2];
    private int _nextSlot;
    private nint _computeMark;

    /// <summary>
    /// Copies <paramref name="source"/> into <paramref name="destination"/> without waiting for the transfer.
    /// Ordering: the copy starts after every kernel queued so far (so it never overwrites data still being
    /// read), and every kernel queued afterwards waits for it. For overlap, upload batch k+1 before queuing
    /// the work of batch k. The span may be reused as soon as this returns.
    /// </summary>
    public void UploadAsync(ReadOnlySpan<byte> source, Tensor destination)
    {
        Own(destination, nameof(UploadAsync));
        if (source.Length != destination.Bytes) throw new ArgumentException($"UploadAsync: {source.Length} bytes into a tensor of {destination.Bytes}");
        if (source.Length == 0) return;
        MakeCurrent();
        ref var slot = ref _staging[_nextSlot];
        _nextSlot ^= 1;
        if (slot.Pending)
        {
            CudaDriver.Check(CudaDriver.cuEventSynchronize(slot.Done), "cuEventSynchronize");
            slot.Pending = false;
        }
        if (slot.Capacity < source.Length)
        {
            if (slot.Host != 0) CudaDriver.Check(CudaDriver.cuMemFreeHost((void*)slot.Host), "cuMemFreeHost");
            slot.Host = 0;
            void* host;
            long capacity = CachingAllocator.RoundUp(source.Length);
            CudaDriver.Check(CudaDriver.cuMemAllocHost(&host, (nuint)capacity), "cuMemAllocHost_v2");
            slot.Host = (nint)host;
            slot.Capacity = capacity;
        }
        if (slot.Done == 0)
        {
            nint e;
            CudaDriver.Check(CudaDriver.cuEventCreate(&e, CudaDriver.EventDisableTiming | CudaDriver.EventBlockingSync), "cuEventCreate");
            slot.Done = e;
        }
        if (_computeMark == 0)
        {
            nint e;
            CudaDriver.Check(CudaDriver.cuEventCreate(&e, CudaDriver.EventDisableTiming | CudaDriver.EventBlockingSync), "cuEventCreate");
            _computeMark = e;
        }
        source.CopyTo(new Span<byte>((void*)slot.Host, source.Length));
        // The copy waits for the compute queued so far (the destination may be a recycled buffer still in use) ...
        CudaDriver.Check(CudaDriver.cuEventRecord(_computeMark, Stream), "cuEventRecord");
        CudaDriver.Check(CudaDriver.cuStreamWaitEvent(_copyStream, _computeMark, 0), "cuStreamWaitEvent");
        CudaDriver.Check(CudaDriver.cuMemcpyHtoDAsync(destination.Data, (void*)slot.Host, (nuint)source.Length, _copyStream), "cuMemcpyHtoDAsync_v2");
        CudaDriver.Check(CudaDriver.cuEventRecord(slot.Done, _copyStream), "cuEventRecord");
        slot.Pending = true;
        // ... and the compute queued from now on waits for the copy.
        CudaDriver.Check(CudaDriver.cuStreamWaitEvent(Stream, slot.Done, 0), "cuStreamWaitEvent");
    }

    private void DisposeStaging()
    {
        for (int i = 0; i < _staging.Length; i++)
        {
            ref var slot = ref _staging[i];
            if (slot.Done != 0) { CudaDriver.cuEventSynchronize(slot.Done); CudaDriver.cuEventDestroy(slot.Done); }
            if (slot.Host != 0) CudaDriver.cuMemFreeHost((void*)slot.Host);
            slot = default;
        }
        if (_computeMark != 0) { CudaDriver.cuEventDestroy(_computeMark); _computeMark = 0; }
    }
}
