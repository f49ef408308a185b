using Vicreg.Engine;
using Vicreg.Engine.Backends.Cpu;
using Vicreg.Engine.Backends.Cuda;
using Vicreg.Engine.Distributed;
using Vicreg.Engine.Nn;
using Vicreg.Engine.Optim;

namespace Vicreg.Training;

/// <summary>
/// What pretraining does differently on several ranks, as the official code with DistributedDataParallel:
/// --batch-size is the global batch, each rank loads its interleaved share; every BatchNorm is
/// synchronised; the loss gathers the embeddings; the gradients are averaged before LARS. Rank 0 alone
/// writes stats.txt, checkpoints and the backbone, and its starting point (fresh or resumed) is broadcast,
/// so every rank starts from the same weights, optimizer state and position even without a shared disk.
/// On CUDA the ranks' collectives go through NCCL, bootstrapped over the given (MPI) communicator; gradient
/// buckets are sent during the backward as their gradients complete (see <see cref="GradientAverager"/>).
/// With one rank every method is free.
/// </summary>
public sealed class DataParallel(ICommunicator communicator) : IDisposable
{
    private NcclCommunicator? _nccl;
    private GradientAverager? _averager;
    // The stop vote's one-element buffer, made once: a steady step allocates nothing new.
    private Tensor? _stopFlag;

    /// <summary>The ranks' collectives: NCCL once <see cref="Attach"/> has seen a model on a GPU, else the given communicator.</summary>
    public ICommunicator Communicator => (ICommunicator?)_nccl ?? communicator;
    public bool IsWriter => communicator.Rank == 0;
    public bool IsDistributed => communicator.Size > 1;

    /// <summary>This rank's share of the global batch; a batch that does not divide is refused.</summary>
    public int LocalBatch(int globalBatch)
    {
        if (globalBatch % communicator.Size != 0)
            throw new UsageException($"pretrain: --batch-size {globalBatch} (the global batch) does not divide among {communicator.Size} ranks");
        return globalBatch / communicator.Size;
    }

    /// <summary>Starts NCCL for a model on a GPU, synchronises the model's BatchNorms and prepares the gradient buckets
    /// (their hook on the tape belongs to the calling thread, which must run the backward).</summary>
    public void Attach(Module model)
    {
        if (!IsDistributed) return;
        if (model.Parameters().First().Backend is CudaBackend cuda) _nccl = new NcclCommunicator(communicator, cuda);
        BatchNorm.Synchronize(model, Communicator);
        _averager = new GradientAverager(model.Parameters(), Communicator);
    }

    /// <summary>Gives every rank rank 0's model state, momentum buffers and position.</summary>
    public TrainingPosition BroadcastStart(Module model, Optimizer optimizer, TrainingPosition position)
    {
        if (!IsDistributed) return position;
        foreach (var (_, t) in model.StateDict().Concat(optimizer.State()))
            if (t.DType is DType.Float32 or DType.Float64) Communicator.Broadcast(t, 0);
            // num_batches_tracked (int32) only feeds the checkpoint, which rank 0 alone writes.
        using var p = Tensor.FromArray<double>([position.Epoch, position.Batch, position.Step], new Shape(3), CpuBackend.Instance);
        Communicator.Broadcast(p, 0);
        var v = p.ToArray<double>();
        return new TrainingPosition((int)v[0], (int)v[1], (long)v[2]);
    }

    /// <summary>Replaces each gradient by its mean over the ranks (call between backward and the optimizer step).</summary>
    public void AverageGradients() => _averager?.Average();

    /// <summary>True on every rank when any rank was asked to stop (Ctrl-C reaches each rank at its own moment).</summary>
    public bool AnyStop(bool stopHere)
    {
        if (!IsDistributed) return stopHere;
        _stopFlag ??= TensorScope.Detach(Tensor.Empty(new Shape(1), DType.Float64, CpuBackend.Instance));
        _stopFlag.Backend.Fill(_stopFlag, stopHere ? 1 : 0);
        Communicator.AllReduceSum(_stopFlag);
        return _stopFlag.Item() > 0;
    }

    public void Dispose()
    {
        _averager?.Dispose();
        _stopFlag?.Dispose();
        _nccl?.Dispose();
    }
}
