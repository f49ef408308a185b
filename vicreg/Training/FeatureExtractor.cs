using Vicreg.Engine;
using Vicreg.Engine.Data;
using Vicreg.Engine.Nn;

namespace Vicreg.Training;

/// <summary>
/// Runs a frozen backbone in evaluation mode over a whole split (deterministic evaluation transform,
/// no shuffling) and keeps the features on the host. With no backbone, the features are the
/// normalised pixels themselves (the raw-pixel probe).
/// </summary>
public static class FeatureExtractor
{
    public static FeatureSet Extract(Module? backbone, IImageDataset dataset, IImageTransform view, IBackend backend, int batchSize, int workers,
        ProgressLine? progress = null, CancellationToken cancel = default)
    {
        using var frozen = new FrozenBackbone(backbone, backend, batchSize);
        using var loader = new DataLoader(dataset, [view], new DataLoaderOptions
        {
            BatchSize = batchSize, Shuffle = false, DropLast = false, NumWorkers = workers, Seed = 0,
        });
        float[]? features = null;
        int dimension = 0;
        var labels = new int[dataset.Count];
        int done = 0;
        foreach (var batch in loader.Epoch(0))
        {
            cancel.ThrowIfCancellationRequested();
            using var scope = TensorScope.Begin();
            var values = frozen.Features(batch.Views[0]).ToArray<float>();
            int rows = batch.Count;
            if (features is null)
            {
                dimension = values.Length / rows;
                features = new float[(long)dataset.Count * dimension];
            }
            Array.Copy(values, 0, features, (long)done * dimension, values.Length);
            batch.Labels.AsSpan<int>()[..rows].CopyTo(labels.AsSpan(done));
            done += rows;
            progress?.Report(done, "");
        }
        progress?.Finish();
        return new FeatureSet(features ?? [], labels, dimension);
    }
}
