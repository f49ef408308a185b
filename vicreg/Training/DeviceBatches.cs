using Vicreg.Engine;
using Vicreg.Engine.Backends;
using Vicreg.Engine.Data;

namespace Vicreg.Training;

/// <summary>
/// The loader's batches on the training backend. On the CPU they are the loader's tensors themselves. On a device
/// two pairs of view buffers alternate: when the loader hands over batch k+1 its upload is queued on the backend's
/// copy stream into the pair batch k does not use, and only then is batch k handed to the step, whose kernels wait
/// for batch k's upload alone, so batch k+1 travels while batch k computes.
/// </summary>
internal sealed class DeviceBatches(IBackend backend) : IDisposable
{
    private readonly (Tensor A, Tensor B)?[] _pairs = new (Tensor A, Tensor B)?[2];
    private int _nextPair;

    /// <summary>Each batch with its two views on the backend, ready to be read by the kernels queued next.</summary>
    public IEnumerable<(Batch Batch, Tensor A, Tensor B)> Over(IEnumerable<Batch> batches)
    {
        if (backend.IsHostMemory)
        {
            foreach (var batch in batches) yield return (batch, batch.Views[0], batch.Views[1]);
            yield break;
        }
        var uploads = backend as IOverlappedUploads ?? throw new NotSupportedException($"{backend.Name} cannot upload batches while it computes");
        using var next = batches.GetEnumerator();
        if (!next.MoveNext()) yield break;
        var current = next.Current;
        var (pair, pending) = Upload(uploads, current);
        while (true)
        {
            // Batch k+1's copies are queued before batch k's step, behind the step that last read their buffers (k-1).
            bool more = next.MoveNext();
            var following = more ? next.Current : null;
            var followingUpload = more ? Upload(uploads, following!) : default;
            uploads.WaitForUpload(pending);
            yield return (current, pair.A, pair.B);
            if (!more) yield break;
            current = following!;
            (pair, pending) = followingUpload;
        }
    }

    private ((Tensor A, Tensor B) Pair, PendingUpload Upload) Upload(IOverlappedUploads uploads, Batch batch)
    {
        var pair = _pairs[_nextPair] ??= (
            TensorScope.Detach(Tensor.Empty(batch.Views[0].Shape, DType.Float32, backend)),
            TensorScope.Detach(Tensor.Empty(batch.Views[1].Shape, DType.Float32, backend)));
        _nextPair ^= 1;
        return (pair, uploads.BeginUpload([batch.Views[0], batch.Views[1]], [pair.A, pair.B]));
    }

    public void Dispose()
    {
        foreach (var pair in _pairs)
        {
            pair?.A.Dispose();
            pair?.B.Dispose();
        }
    }
}
