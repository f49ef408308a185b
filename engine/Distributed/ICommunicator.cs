namespace Vicreg.Engine.Distributed;

/// <summary>
/// The collective operations data-parallel training needs, across the ranks of one job. Every rank calls
/// the same collectives in the same order with tensors of the same shape and dtype (float32 or float64);
/// the tensors live in host memory for the CPU implementations. A rank that cannot go on calls
/// <see cref="Abort"/>, which ends every rank of the job rather than leaving them waiting in a collective.
/// </summary>
public interface ICommunicator : IDisposable
{
    /// <summary>This process's index, 0 ≤ Rank &lt; Size.</summary>
    int Rank { get; }

    /// <summary>The number of ranks in the job.</summary>
    int Size { get; }

    /// <summary>Short description for logs ("single process", "MPI, 4 ranks").</summary>
    string Name { get; }

    /// <summary>Replaces <paramref name="tensor"/> on every rank by the element-wise sum over ranks.</summary>
    void AllReduceSum(Tensor tensor);

    /// <summary>
    /// Starts <see cref="AllReduceSum"/> and returns before it completes, so that work not touching
    /// <paramref name="tensor"/> overlaps the transfer; the tensor is neither read nor written by the caller until
    /// <see cref="PendingCollective.Wait"/>. Started collectives count in the order of collectives every rank
    /// follows. The default runs the blocking one (nothing to overlap).
    /// </summary>
    PendingCollective StartAllReduceSum(Tensor tensor)
    {
        AllReduceSum(tensor);
        return PendingCollective.Completed;
    }

    /// <summary>Writes every rank's <paramref name="local"/> into <paramref name="gathered"/>, rank r's at
    /// element offset r · local.Numel (so [n, d] locals gather into [Size · n, d] in rank order).</summary>
    void AllGather(Tensor local, Tensor gathered);

    /// <summary>Replaces <paramref name="tensor"/> on every rank by rank <paramref name="root"/>'s.</summary>
    void Broadcast(Tensor tensor, int root);

    /// <summary>Returns once every rank has called it.</summary>
    void Barrier();

    /// <summary>Ends every rank of the job with <paramref name="exitCode"/>; does not return.</summary>
    void Abort(int exitCode);
}
