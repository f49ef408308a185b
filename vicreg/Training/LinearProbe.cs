using System.Numerics;
using Vicreg.Engine.Inference;
using Vicreg.Engine;

namespace Vicreg.Training;

/// <summary>Top-1 and top-5 accuracy on the test split, in percent.</summary>
public readonly record struct ProbeAccuracy(double Top1, double Top5);

/// <summary>
/// A linear classifier on frozen features, trained as the official linear evaluation trains its head:
/// weights N(0, 0.01), zero bias, SGD with momentum 0.9, weight decay, batch 256, a cosine schedule
/// stepped per epoch. Features are computed once (the backbone is frozen and in eval mode) and each
/// feature dimension is standardized with the training split's mean and std, so every probe — a
/// trained backbone, a random one, raw pixels — is measured the same way. This is linear-eval's default
/// protocol; <see cref="AugmentedLinearProbe"/> is the official one (fresh augmentations every step).
/// </summary>
public sealed class LinearProbe(int epochs, int batchSize, double lr, double weightDecay, ulong seed)
{
    public ProbeAccuracy Run(FeatureSet train, FeatureSet test, int classes, IBackend backend, Action<int, double>? onEpoch = null,
        CancellationToken cancel = default)
    {
        if (train.Dimension != test.Dimension)
            throw new ArgumentException($"train features have {train.Dimension} dimensions, test features {test.Dimension}");
        var (mean, std) = train.ColumnStatistics();
        // The training rows stay on the host: each batch is gathered there in shuffled order and uploaded in one copy
        // (one device copy per row would be 256 tiny transfers a step on a GPU).
        float[] trainValues = train.Standardized(mean, std);
        using var testX = Upload(test.Standardized(mean, std), test.Count, test.Dimension, backend);

        var head = new LinearHead(train.Dimension, classes, epochs, lr, weightDecay, seed, backend);
        int batches = (train.Count + batchSize - 1) / batchSize;
        var order = new int[train.Count];
        var labels = train.Labels;
        using var batchX = Tensor.Empty(new Shape(batchSize, train.Dimension), DType.Float32, backend);
        using var batchY = Tensor.Empty(new Shape(batchSize), DType.Int32, backend);
        var batchLabels = new int[batchSize];
        var batchValues = new float[batchSize * train.Dimension];
        for (int epoch = 0; epoch < epochs; epoch++)
        {
            for (int i = 0; i < order.Length; i++) order[i] = i;
            var epochRng = Rng.ForKey(seed, (ulong)epoch);
            epochRng.Shuffle(order);
            double lossSum = 0;
            for (int b = 0; b < batches; b++)
            {
                cancel.ThrowIfCancellationRequested();
                int start = b * batchSize, count = Math.Min(batchSize, train.Count - start);
                for (int r = 0; r < count; r++)
                {
                    int row = order[start + r];
                    Array.Copy(trainValues, (long)row * train.Dimension, batchValues, (long)r * train.Dimension, train.Dimension);
                    batchLabels[r] = labels[row];
                }
                using var scope = TensorScope.Begin();
                var x = count == batchSize ? batchX : batchX.NarrowView(0, count);
                var y = count == batchSize ? batchY : batchY.NarrowView(0, count);
                x.CopyFrom<float>(batchValues.AsSpan(0, count * train.Dimension));
                y.CopyFrom<int>(batchLabels.AsSpan(0, count));
                lossSum += head.Step(x, y, epoch) * count;
            }
            onEpoch?.Invoke(epoch, lossSum / train.Count);
        }
        return head.Evaluate(testX, test.Labels);
    }

    /// <summary>Top-1 and top-5 (top-k with k = min(5, classes)) of row-major logits (or any class scores) [n, classes].</summary>
    public static ProbeAccuracy Accuracy<T>(ReadOnlySpan<T> logits, ReadOnlySpan<int> labels, int classes) where T : INumber<T>
    {
        int n = labels.Length, top1 = 0, top5 = 0, k = Math.Min(5, classes);
        for (int i = 0; i < n; i++)
        {
            var row = logits.Slice(i * classes, classes);
            T target = row[labels[i]];
            // Rank of the true class: how many classes score strictly higher (ties favour the true class).
            int higher = 0;
            for (int c = 0; c < classes; c++) if (row[c] > target) higher++;
            if (higher == 0) top1++;
            if (higher < k) top5++;
        }
        return new ProbeAccuracy(100.0 * top1 / n, 100.0 * top5 / n);
    }

    private static Tensor Upload(float[] values, int rows, int columns, IBackend backend)
        => TensorScope.Detach(Tensor.FromArray<float>(values, new Shape(rows, columns), backend));
}
