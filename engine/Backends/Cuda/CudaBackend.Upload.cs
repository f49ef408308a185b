using Vicreg.Engine.Backends.Cuda.Native;

namespace Vicreg.Engine.Backends.Cuda;

/// <summary>
/// Batch uploads through pinned host memory on a separate copy stream, so that the transfer of the next
/// batch overlaps the compute of the current one. Two pinned staging buffers alternate: the host fills one
/// while the DMA engine may still be reading the other.
/// </summary>
public sealed unsafe partial class CudaBackend : IOverlappedUploads
{
    private struct StagingSlot
    {
        public nint Host;
        public long Capacity;
        public nint Done;      // recorded on the copy stream after the copies out of this slot
        public bool Pending;
        public long Use;       // how many uploads this slot has carried
    }

    private readonly StagingSlot[] _staging = new StagingSlot[2];
    private int _nextSlot;
    private nint _computeMark;

    /// <summary>
    /// Copies <paramref name="source"/> into <paramref name="destination"/> without waiting for the transfer:
    /// <see cref="BeginUpload"/> then <see cref="WaitForUpload"/>, so every kernel queued afterwards sees the data.
    /// The span may be reused as soon as this returns.
    /// </summary>
    public void UploadAsync(ReadOnlySpan<byte> source, Tensor destination)
    {
        Own(destination, nameof(UploadAsync));
        if (source.Length != destination.Bytes) throw new ArgumentException($"UploadAsync: {source.Length} bytes into a tensor of {destination.Bytes}");
        fixed (byte* bytes = source)
        {
            var upload = Stage([(nint)bytes], [source.Length], [destination]);
            WaitForUpload(upload);
        }
    }

    public PendingUpload BeginUpload(ReadOnlySpan<Tensor> sources, ReadOnlySpan<Tensor> destinations)
    {
        if (sources.Length != destinations.Length) throw new ArgumentException($"BeginUpload: {sources.Length} sources for {destinations.Length} destinations");
        var hosts = new nint[sources.Length];
        var lengths = new long[sources.Length];
        for (int i = 0; i < sources.Length; i++)
        {
            Own(destinations[i], nameof(BeginUpload));
            if (!sources[i].Backend.IsHostMemory) throw new ArgumentException($"BeginUpload: source {i} is on {sources[i].Backend.Name}, not in host memory");
            if (sources[i].Bytes != destinations[i].Bytes) throw new ArgumentException($"BeginUpload: {sources[i].Bytes} bytes into a tensor of {destinations[i].Bytes}");
            hosts[i] = sources[i].Data;
            lengths[i] = sources[i].Bytes;
        }
        return Stage(hosts, lengths, destinations);
    }

    public void WaitForUpload(PendingUpload upload)
    {
        ref var slot = ref _staging[upload.Slot];
        // A slot used again since was waited for on the host before its reuse: those copies have run.
        if (slot.Use != upload.Use || !slot.Pending) return;
        MakeCurrent();
        CudaDriver.Check(CudaDriver.cuStreamWaitEvent(Stream, slot.Done, 0), "cuStreamWaitEvent");
    }

    /// <summary>The host bytes into the next pinned slot (after waiting for that slot's previous copies), then one copy
    /// per destination on the copy stream, behind the compute queued so far, and the slot's event after them.</summary>
    private PendingUpload Stage(ReadOnlySpan<nint> hosts, ReadOnlySpan<long> lengths, ReadOnlySpan<Tensor> destinations)
    {
        long total = 0;
        foreach (long n in lengths) total += n;
        MakeCurrent();
        int index = _nextSlot;
        ref var slot = ref _staging[index];
        _nextSlot ^= 1;
        if (slot.Pending)
        {
            CudaDriver.Check(CudaDriver.cuEventSynchronize(slot.Done), "cuEventSynchronize");
            slot.Pending = false;
        }
        slot.Use++;
        if (total == 0) return new PendingUpload(index, slot.Use);
        if (slot.Capacity < total)
        {
            if (slot.Host != 0) CudaDriver.Check(CudaDriver.cuMemFreeHost((void*)slot.Host), "cuMemFreeHost");
            slot.Host = 0;
            void* host;
            long capacity = CachingAllocator.RoundUp(total);
            CudaDriver.Check(CudaDriver.cuMemAllocHost(&host, (nuint)capacity), "cuMemAllocHost_v2");
            slot.Host = (nint)host;
            slot.Capacity = capacity;
        }
        if (slot.Done == 0) slot.Done = CreateStagingEvent();
        if (_computeMark == 0) _computeMark = CreateStagingEvent();
        // The copies wait for the compute queued so far (a destination may be a buffer that compute still reads).
        CudaDriver.Check(CudaDriver.cuEventRecord(_computeMark, Stream), "cuEventRecord");
        CudaDriver.Check(CudaDriver.cuStreamWaitEvent(_copyStream, _computeMark, 0), "cuStreamWaitEvent");
        long offset = 0;
        for (int i = 0; i < destinations.Length; i++)
        {
            if (lengths[i] == 0) continue;
            byte* staged = (byte*)slot.Host + offset;
            new ReadOnlySpan<byte>((void*)hosts[i], checked((int)lengths[i])).CopyTo(new Span<byte>(staged, checked((int)lengths[i])));
            CudaDriver.Check(CudaDriver.cuMemcpyHtoDAsync(destinations[i].Data, staged, (nuint)lengths[i], _copyStream), "cuMemcpyHtoDAsync_v2");
            offset += lengths[i];
        }
        CudaDriver.Check(CudaDriver.cuEventRecord(slot.Done, _copyStream), "cuEventRecord");
        slot.Pending = true;
        return new PendingUpload(index, slot.Use);
    }

    private static nint CreateStagingEvent()
    {
        nint e;
        CudaDriver.Check(CudaDriver.cuEventCreate(&e, CudaDriver.EventDisableTiming | CudaDriver.EventBlockingSync), "cuEventCreate");
        return e;
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
