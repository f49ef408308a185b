using Vicreg.Engine;
using Vicreg.Engine.Data;
using Vicreg.Engine.Nn;

namespace Vicreg.Engine.Inference;

/// <summary>
/// Runs a frozen backbone in evaluation mode over a whole split (deterministic evaluation transform,
/// no shuffling) and keeps the features on the host. With no backbone, the features are the
/// normalized pixels themselves (the raw-pixel probe). A sample that cannot be read is skipped (a
/// warning names it, and the skipped callback is told it with the reason) and gets no row, never another
/// sample's features; in strict mode it stops the extraction with a <see cref="DatasetException"/>.
/// The progress callback is told, after each batch, how many samples have been seen.
/// </summary>
public static class FeatureExtractor
{
    /// <summary>The features of every readable sample of <paramref name="dataset"/> through <paramref name="view"/>, by
    /// <paramref name="backbone"/> (null: the pixels) on <paramref name="backend"/>, <paramref name="batchSize"/> samples a
    /// batch, decoded by <paramref name="workers"/> threads (0: the caller's); <paramref name="skipped"/> is told each
    /// unreadable sample's index and reason, <paramref name="strict"/> stops at the first instead.</summary>
    public static FeatureSet Extract(Module? backbone, IImageDataset dataset, IImageTransform view, IBackend backend, int batchSize, int workers,
        Action<int>? progress = null, CancellationToken cancel = default, bool strict = false, Action<int, string>? skipped = null)
    {
        using var frozen = new FrozenBackbone(backbone, backend, batchSize);
        using var loader = new DataLoader(dataset, [view], new DataLoaderOptions
        {
            BatchSize = batchSize, Shuffle = false, DropLast = false, NumWorkers = workers, Seed = 0,
            ReplaceUnreadable = false, Strict = strict, Skipped = skipped,
        });
        float[]? features = null;
        int dimension = 0;
        var labels = new int[dataset.Count];
        var indices = new int[dataset.Count];
        int seen = 0, kept = 0;
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
            var batchLabels = batch.Labels.AsSpan<int>();
            var batchIndices = batch.Indices;
            for (int r = 0; r < rows; r++)
            {
                if (batchIndices[r] < 0) continue; // skipped: unreadable
                Array.Copy(values, (long)r * dimension, features, (long)kept * dimension, dimension);
                labels[kept] = batchLabels[r];
                indices[kept] = batchIndices[r];
                kept++;
            }
            seen += rows;
            progress?.Invoke(seen);
        }
        if (kept == 0) throw new DatasetException($"none of the {dataset.Count} images could be read");
        if (kept < dataset.Count)
        {
            Array.Resize(ref features, kept * dimension);
            Array.Resize(ref labels, kept);
            Array.Resize(ref indices, kept);
        }
        return new FeatureSet(features!, labels, dimension, indices);
    }
}
