using static Vicreg.Engine.Distributed.Mpi.MpiNative;

namespace Vicreg.Engine.Distributed.Mpi;

/// <summary>
/// The ranks of MPI_COMM_WORLD (a job started by <c>mpirun</c>) through OpenMPI. Initializes MPI with
/// MPI_THREAD_FUNNELED (only the training thread calls MPI) and MPI_ERRORS_RETURN, so a failed call
/// becomes an exception naming it instead of OpenMPI's default abort; <see cref="Dispose"/> finalises.
/// Tensors must be in host memory (the CPU backend); GPU ranks use NCCL.
/// </summary>
public sealed unsafe class MpiCommunicator : ICommunicator
{
    // MPI counts are ints: larger tensors go in chunks of this many elements.
    private const int MaxCount = 1 << 30;
    private readonly nint _world, _float, _double, _sum;
    private bool _disposed;

    public int Rank { get; }
    public int Size { get; }
    public string Name => $"MPI, {Size} ranks";

    public MpiCommunicator()
    {
        _world = Predefined("ompi_mpi_comm_world");
        _float = Predefined("ompi_mpi_float");
        _double = Predefined("ompi_mpi_double");
        _sum = Predefined("ompi_mpi_op_sum");
        int initialized;
        Check(MPI_Initialized(&initialized), "MPI_Initialized");
        if (initialized == 0)
        {
            int provided;
            Check(MPI_Init_thread(null, null, ThreadFunneled, &provided), "MPI_Init_thread");
            if (provided < ThreadFunneled) throw new MpiException($"MPI_Init_thread: the library provides thread level {provided}, we need MPI_THREAD_FUNNELED");
        }
        Check(MPI_Comm_set_errhandler(_world, Predefined("ompi_mpi_errors_return")), "MPI_Comm_set_errhandler");
        int rank, size;
        Check(MPI_Comm_rank(_world, &rank), "MPI_Comm_rank");
        Check(MPI_Comm_size(_world, &size), "MPI_Comm_size");
        Rank = rank;
        Size = size;
    }

    public void AllReduceSum(Tensor tensor)
    {
        var (type, element) = TypeOf(tensor);
        for (long start = 0; start < tensor.Numel; start += MaxCount)
        {
            int count = (int)Math.Min(MaxCount, tensor.Numel - start);
            Check(MPI_Allreduce((void*)InPlace, (byte*)tensor.Data + start * element, count, type, _sum, _world), "MPI_Allreduce");
        }
    }

    /// <summary>MPI_Iallreduce on each chunk; the request is driven by <see cref="PendingCollective.Poll"/> (MPI_Test),
    /// by any later MPI call, and finished by MPI_Wait.</summary>
    public PendingCollective StartAllReduceSum(Tensor tensor)
    {
        var (type, element) = TypeOf(tensor);
        var requests = new nint[(int)((tensor.Numel + MaxCount - 1) / MaxCount)];
        for (int i = 0; i < requests.Length; i++)
        {
            long start = (long)i * MaxCount;
            int count = (int)Math.Min(MaxCount, tensor.Numel - start);
            nint request;
            Check(MPI_Iallreduce((void*)InPlace, (byte*)tensor.Data + start * element, count, type, _sum, _world, &request), "MPI_Iallreduce");
            requests[i] = request;
        }
        return new MpiRequests(requests);
    }

    private sealed class MpiRequests(nint[] requests) : PendingCollective
    {
        private int _done;

        public override bool Poll()
        {
            while (_done < requests.Length)
            {
                int flag;
                fixed (nint* r = &requests[_done]) Check(MPI_Test(r, &flag, null), "MPI_Test");
                if (flag == 0) return false;
                _done++;
            }
            return true;
        }

        public override void Wait()
        {
            for (; _done < requests.Length; _done++)
                fixed (nint* r = &requests[_done]) Check(MPI_Wait(r, null), "MPI_Wait");
        }
    }

    public void AllGather(Tensor local, Tensor gathered)
    {
        CollectiveChecks.Gather(local, gathered, Size);
        var (type, _) = TypeOf(local);
        TypeOf(gathered);
        if (local.Numel > int.MaxValue) throw new MpiException($"MPI_Allgather: {local.Numel} elements per rank exceed an MPI count");
        int count = (int)local.Numel;
        Check(MPI_Allgather((void*)local.Data, count, type, (void*)gathered.Data, count, type, _world), "MPI_Allgather");
    }

    public void Broadcast(Tensor tensor, int root)
    {
        CollectiveChecks.Root(root, Size);
        var (type, element) = TypeOf(tensor);
        for (long start = 0; start < tensor.Numel; start += MaxCount)
        {
            int count = (int)Math.Min(MaxCount, tensor.Numel - start);
            Check(MPI_Bcast((byte*)tensor.Data + start * element, count, type, root, _world), "MPI_Bcast");
        }
    }

    public void Barrier() => Check(MPI_Barrier(_world), "MPI_Barrier");

    public void Abort(int exitCode)
    {
        Console.Out.Flush();
        Console.Error.Flush();
        MPI_Abort(_world, exitCode);
        Environment.Exit(exitCode); // MPI_Abort does not return; this is for a library that does
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        int finalized;
        if (MPI_Finalized(&finalized) == Success && finalized == 0) MPI_Finalize();
    }

    private (nint Type, int ElementBytes) TypeOf(Tensor t)
    {
        if (!t.Backend.IsHostMemory) throw new MpiException($"MPI collectives need host tensors; {t} lives on {t.Backend.Name} (GPU ranks use NCCL)");
        return t.DType switch
        {
            DType.Float32 => (_float, 4),
            DType.Float64 => (_double, 8),
            _ => throw new MpiException($"MPI collectives take float32 or float64 tensors, not {t.DType}"),
        };
    }
}
