using Vicreg.Engine.Backends.Cuda.Native;
using Vicreg.Engine.Distributed;

namespace Vicreg.Engine.Backends.Cuda;

/// <summary>
/// The collectives of GPU ranks through NCCL, one rank per device. Bootstrap, as NCCL's examples and llm.c:
/// rank 0 asks ncclGetUniqueId for the job's 128-byte id and broadcasts it over <paramref name="bootstrap"/>
/// (MPI), then every rank calls ncclCommInitRank. Device tensors go through NCCL on a stream of its own: each
/// collective waits (cuStreamWaitEvent) for an event recorded on the compute stream, so it reads what the
/// kernels queued before it wrote, and the compute stream waits for an event recorded after it before the
/// kernels queued later, so nothing reads the result early; the host never blocks. An all-reduce started with
/// <see cref="StartAllReduceSum"/> lets the compute stream go on until its <see cref="PendingCollective.Wait"/>.
/// Host tensors (the start broadcast, the stop vote) go through the bootstrap communicator.
/// <para>A watchdog thread polls ncclCommGetAsyncError, as PyTorch's ProcessGroupNCCL does: when a peer dies or the
/// network fails, NCCL's kernels would otherwise spin forever and the next host synchronization would hang the rank.
/// On an error the watchdog aborts the communicator (ncclCommAbort ends its pending kernels), and every later
/// collective throws one line naming the error.</para>
/// Not run on a GPU: tested on the CPU emulation's fake libnccl only.
/// </summary>
public sealed unsafe class NcclCommunicator : ICommunicator
{
    private readonly ICommunicator _bootstrap;
    private readonly CudaBackend _backend;
    private nint _comm, _stream, _computeReady, _done;
    private bool _disposed;
    /// <summary>Guards <see cref="_comm"/> between the rank's thread (enqueues) and the watchdog (abort). Enqueueing never
    /// blocks on the other ranks, so neither side waits long for it.</summary>
    private readonly Lock _commGate = new();
    /// <summary>Null only while a failed constructor disposes what it built.</summary>
    private readonly Thread? _watchdog;
    private readonly ManualResetEventSlim _stopWatchdog = new();
    private volatile string? _asyncFailure;

    /// <summary>How often the watchdog asks NCCL for an asynchronous error.</summary>
    internal static TimeSpan WatchdogInterval { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>The asynchronous NCCL error the watchdog found (the communicator is aborted), or null.</summary>
    public string? AsyncFailure => _asyncFailure;

    public int Rank => _bootstrap.Rank;
    public int Size => _bootstrap.Size;
    public string Name => $"NCCL, {Size} ranks";

    /// <param name="bootstrap">The job's ranks (MPI): shares the unique id, carries host-tensor collectives; not owned.</param>
    /// <param name="backend">This rank's device.</param>
    public NcclCommunicator(ICommunicator bootstrap, CudaBackend backend)
    {
        CudaLibraries.RequireExports(CudaLibrary.Nccl, Nccl.EntryPoints);
        _bootstrap = bootstrap;
        _backend = backend;
        var id = default(Nccl.UniqueId);
        if (bootstrap.Rank == 0) Nccl.Check(Nccl.ncclGetUniqueId(&id), "ncclGetUniqueId");
        // 128 bytes as 16 float64 values: broadcasting copies bits, it never computes with them.
        using (var carrier = Tensor.Empty(new Shape(sizeof(Nccl.UniqueId) / sizeof(double)), DType.Float64, Device.Cpu))
        {
            var bytes = new Span<byte>((void*)carrier.Data, sizeof(Nccl.UniqueId));
            new ReadOnlySpan<byte>(id.Internal, sizeof(Nccl.UniqueId)).CopyTo(bytes);
            bootstrap.Broadcast(carrier, 0);
            bytes.CopyTo(new Span<byte>(id.Internal, sizeof(Nccl.UniqueId)));
        }
        backend.MakeCurrent();
        try
        {
            nint handle;
            CudaDriver.Check(CudaDriver.cuStreamCreate(&handle, CudaDriver.StreamNonBlocking), "cuStreamCreate");
            _stream = handle;
            _computeReady = NewEvent();
            _done = NewEvent();
            Nccl.Check(Nccl.ncclCommInitRank(&handle, Size, id, Rank), "ncclCommInitRank");
            _comm = handle;
        }
        catch
        {
            Dispose();
            throw;
        }
        _watchdog = new Thread(Watch) { IsBackground = true, Name = $"NCCL watchdog, rank {Rank}" };
        _watchdog.Start();
    }

    private void Watch()
    {
        while (!_stopWatchdog.Wait(WatchdogInterval))
        {
            lock (_commGate)
            {
                if (_comm == 0) return;
                int error;
                int status = Nccl.ncclCommGetAsyncError(_comm, &error);
                if (status != 0) error = status;
                if (error == 0 || error == Nccl.InProgress) continue;
                _asyncFailure = $"NCCL failed on rank {Rank} of {Size}: {Nccl.ErrorName(error)} (a rank stopped or the network broke); the communicator was aborted";
                Nccl.ncclCommAbort(_comm);
                _comm = 0;
                return;
            }
        }
    }

    private static nint NewEvent()
    {
        nint e;
        CudaDriver.Check(CudaDriver.cuEventCreate(&e, CudaDriver.EventDisableTiming), "cuEventCreate");
        return e;
    }

    public void AllReduceSum(Tensor tensor)
    {
        if (tensor.Backend.IsHostMemory) _bootstrap.AllReduceSum(tensor);
        else StartAllReduceSum(tensor).Wait();
    }

    public PendingCollective StartAllReduceSum(Tensor tensor)
    {
        if (tensor.Backend.IsHostMemory) return _bootstrap.StartAllReduceSum(tensor);
        int type = TypeOf(tensor);
        var done = NewEvent();
        Enqueue(stream => Nccl.ncclAllReduce(tensor.Data, tensor.Data, (nuint)tensor.Numel, type, Nccl.Sum, _comm, stream), "ncclAllReduce", done);
        return new Pending(this, done);
    }

    public void AllGather(Tensor local, Tensor gathered)
    {
        CollectiveChecks.Gather(local, gathered, Size);
        if (local.Backend.IsHostMemory && gathered.Backend.IsHostMemory)
        {
            _bootstrap.AllGather(local, gathered);
            return;
        }
        int type = TypeOf(local);
        TypeOf(gathered);
        Enqueue(stream => Nccl.ncclAllGather(local.Data, gathered.Data, (nuint)local.Numel, type, _comm, stream), "ncclAllGather", _done);
        ComputeWaitsFor(_done);
    }

    public void Broadcast(Tensor tensor, int root)
    {
        CollectiveChecks.Root(root, Size);
        if (tensor.Backend.IsHostMemory)
        {
            _bootstrap.Broadcast(tensor, root);
            return;
        }
        int type = TypeOf(tensor);
        Enqueue(stream => Nccl.ncclBroadcast(tensor.Data, tensor.Data, (nuint)tensor.Numel, type, root, _comm, stream), "ncclBroadcast", _done);
        ComputeWaitsFor(_done);
    }

    public void Barrier() => _bootstrap.Barrier();

    public void Abort(int exitCode)
    {
        lock (_commGate)
        {
            if (_comm != 0) Nccl.ncclCommAbort(_comm);
            _comm = 0;
        }
        _bootstrap.Abort(exitCode);
    }

    /// <summary>Queues <paramref name="call"/> on the NCCL stream after the work queued so far on the compute
    /// stream, and records <paramref name="done"/> after it.</summary>
    private void Enqueue(Func<nint, int> call, string name, nint done)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _backend.MakeCurrent();
        CudaDriver.Check(CudaDriver.cuEventRecord(_computeReady, _backend.Stream), "cuEventRecord");
        CudaDriver.Check(CudaDriver.cuStreamWaitEvent(_stream, _computeReady, 0), "cuStreamWaitEvent");
        lock (_commGate)
        {
            if (_asyncFailure is string failure) throw new CudaException(failure);
            Nccl.Check(call(_stream), name);
        }
        CudaDriver.Check(CudaDriver.cuEventRecord(done, _stream), "cuEventRecord");
    }

    /// <summary>Work queued on the compute stream from now on starts after <paramref name="done"/>.</summary>
    private void ComputeWaitsFor(nint done)
    {
        _backend.MakeCurrent();
        CudaDriver.Check(CudaDriver.cuStreamWaitEvent(_backend.Stream, done, 0), "cuStreamWaitEvent");
    }

    private sealed class Pending(NcclCommunicator owner, nint done) : PendingCollective
    {
        private nint _done = done;

        // The host never waits for a GPU collective: once queued behind its event, it is as good as complete.
        public override bool Poll() => true;

        public override void Wait()
        {
            if (_done == 0) return;
            owner.ComputeWaitsFor(_done);
            // Destroying an event that a stream waits on is allowed: the wait keeps what it needs.
            CudaDriver.Check(CudaDriver.cuEventDestroy(_done), "cuEventDestroy_v2");
            _done = 0;
        }
    }

    private int TypeOf(Tensor t)
    {
        if (!ReferenceEquals(t.Backend, _backend))
            throw new InvalidOperationException($"NCCL collectives take tensors on this rank's device ({_backend.Name}), not {t}");
        return t.DType switch
        {
            DType.Float32 => Nccl.Float32,
            DType.Int32 => Nccl.Int32,
            _ => throw new NotSupportedException($"NCCL collectives here take float32 or int32 tensors, not {t.DType.Name()}"),
        };
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _stopWatchdog.Set();
        _watchdog?.Join();
        _stopWatchdog.Dispose();
        _backend.MakeCurrent();
        if (_stream != 0) CudaDriver.cuStreamSynchronize(_stream);
        if (_comm != 0) Nccl.ncclCommDestroy(_comm);
        if (_computeReady != 0) CudaDriver.cuEventDestroy(_computeReady);
        if (_done != 0) CudaDriver.cuEventDestroy(_done);
        if (_stream != 0) CudaDriver.cuStreamDestroy(_stream);
        _comm = _stream = _computeReady = _done = 0;
    }
}
