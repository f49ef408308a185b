namespace Vicreg.Engine.Backends;

/// <summary>
/// A device backend that copies host data on a stream of its own while it computes, so that the next batch
/// travels while the current one is trained on. <see cref="BeginUpload"/> queues the copies and returns at
/// once; compute waits for them only from <see cref="WaitForUpload"/> on, so a caller uploads batch k+1,
/// then waits for batch k's upload and queues its step.
/// </summary>
public interface IOverlappedUploads
{
    /// <summary>Copies each host tensor of <paramref name="sources"/> into the device tensor of the same index of
    /// <paramref name="destinations"/> (the same number of bytes). The copies start after every kernel queued so far
    /// (a destination may still be read by them); the host tensors may be reused as soon as this returns.</summary>
    PendingUpload BeginUpload(ReadOnlySpan<Tensor> sources, ReadOnlySpan<Tensor> destinations);

    /// <summary>Every kernel queued from now on waits for <paramref name="upload"/>'s copies.</summary>
    void WaitForUpload(PendingUpload upload);
}

/// <summary>An upload queued by <see cref="IOverlappedUploads.BeginUpload"/>: its staging slot, and which use of the
/// slot it was (a slot used again since has been waited for on the host, so its copies have run).</summary>
public readonly record struct PendingUpload(int Slot, long Use);
