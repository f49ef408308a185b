using Vicreg.Datasets;
using Vicreg.Engine.Inference;
using Vicreg.Engine.Backends.Cpu;
using Vicreg.Engine.Data.Datasets;
using Vicreg.Engine.Data;
using Vicreg.Engine;
using Vicreg.Engine.Models;
using Vicreg.Tests.Engine.Models;
using Vicreg.Training;

namespace Vicreg.Tests.App.Training;

/// <summary>The official linear-evaluation protocol's data: every epoch draws a fresh RandomCrop(28, pad 4) + flip
/// of each training image, while test features are the evaluation transform's (the normalized image as is).
/// On the first images of Fashion-MNIST (Debian's dataset-fashion-mnist).</summary>
public class AugmentedLinearProbeTests
{
    private const int Size = 28, Pad = 4, Count = 16;

    private static DatasetChoice FashionMnist()
    {
        Skip.IfNot(Directory.Exists(IdxDataset.DefaultFashionMnistPath()),
            $"skipped: Fashion-MNIST not installed at {IdxDataset.DefaultFashionMnistPath()} (tools/install-deps.sh installs it)");
        return DatasetCatalog.Open("fashion-mnist", null, train: true);
    }

    /// <summary>(pixel / 255 - mean) / std of every image, computed here from the raw bytes: what the evaluation transform must give.</summary>
    private static float[][] Normalized(IImageDataset dataset, DatasetNormalization norm)
    {
        var image = new ImageBuffer();
        byte[] scratch = [];
        var result = new float[dataset.Count][];
        for (int i = 0; i < dataset.Count; i++)
        {
            dataset.Read(i, image, ref scratch);
            result[i] = image.Pixels.ToArray().Select(b => (b / 255f - norm.Mean[0]) / norm.Std[0]).ToArray();
        }
        return result;
    }

    /// <summary>Whether <paramref name="sample"/> is <paramref name="image"/> (or its mirror) shifted by at most the
    /// padding, with the padding's zeros (normalized) where the shift leaves the image.</summary>
    private static bool IsPaddedCropOrFlip(float[] sample, float[] image, float normalizedZero)
    {
        for (int flip = 0; flip < 2; flip++)
            for (int dy = -Pad; dy <= Pad; dy++)
                for (int dx = -Pad; dx <= Pad; dx++)
                {
                    bool match = true;
                    for (int y = 0; y < Size && match; y++)
                        for (int x = 0; x < Size && match; x++)
                        {
                            int sy = y + dy, sx = x + dx;
                            bool inside = (uint)sy < Size && (uint)sx < Size;
                            float expected = inside ? image[sy * Size + (flip == 1 ? Size - 1 - sx : sx)] : normalizedZero;
                            match = Math.Abs(sample[y * Size + x] - expected) < 1e-5f;
                        }
                    if (match) return true;
                }
        return false;
    }

    [SkippableFact]
    public void TrainingBatchesAreFreshCropsAndFlipsEachEpochWhileTestFeaturesAreTheEvaluationTransforms()
    {
        var choice = FashionMnist();
        var dataset = DatasetCatalog.Limit(choice.Dataset, Count);
        var images = Normalized(dataset, choice.Normalization);
        float normalizedZero = -choice.Normalization.Mean[0] / choice.Normalization.Std[0];

        // Test features (raw-pixel probe): exactly the normalized images, in order.
        var test = FeatureExtractor.Extract(null, dataset, choice.Evaluation, Device.Cpu, batchSize: 5, workers: 1);
        Assert.Equal(Size * Size, test.Dimension);
        for (int i = 0; i < Count; i++)
        {
            Assert.Equal(dataset.Label(i), test.Labels[i]);
            ResNetTests.AssertClose(images[i], test.Values.AsSpan(i * Size * Size, Size * Size).ToArray(), 1e-5);
        }

        // Training batches: per image, a padded crop (or mirror) of it, drawn afresh every epoch.
        var probe = new AugmentedLinearProbe(epochs: 2, batchSize: Count, lr: 0.1, weightDecay: 0, seed: 11, workers: 2);
        using var loader = probe.TrainingLoader(dataset, choice.LinearTrain);
        var samples = new float[2][][];
        var order = new int[Count];
        for (int epoch = 0; epoch < 2; epoch++)
        {
            loader.FillEpochOrder(epoch, order);
            samples[epoch] = new float[Count][];
            foreach (var batch in loader.Epoch(epoch))
            {
                Assert.Equal(Count, batch.Count);
                var pixels = batch.Views[0].ToArray<float>();
                var labels = batch.Labels.ToArray<int>();
                for (int row = 0; row < Count; row++)
                {
                    int index = order[row];
                    Assert.Equal(dataset.Label(index), labels[row]);
                    samples[epoch][index] = pixels.AsSpan(row * Size * Size, Size * Size).ToArray();
                }
            }
        }
        Assert.False(order.SequenceEqual(Enumerable.Range(0, Count)), "the training split is shuffled");
        int unchanged = 0, asIs = 0;
        for (int i = 0; i < Count; i++)
        {
            Assert.True(IsPaddedCropOrFlip(samples[0][i], images[i], normalizedZero), $"epoch 0, image {i}: not a padded crop or flip of the image");
            Assert.True(IsPaddedCropOrFlip(samples[1][i], images[i], normalizedZero), $"epoch 1, image {i}: not a padded crop or flip of the image");
            if (samples[0][i].SequenceEqual(samples[1][i])) unchanged++;
            if (samples[0][i].Zip(images[i]).All(p => Math.Abs(p.First - p.Second) < 1e-5f)) asIs++;
        }
        // One of 162 (crop, flip) draws repeats by chance; the identity crop likewise.
        Assert.True(unchanged <= 2, $"{unchanged} of {Count} images got the same augmentation in both epochs");
        Assert.True(asIs <= 2, $"{asIs} of {Count} training images were not augmented");
    }

    [SkippableFact]
    public void EpochsAfterTheFirstHoldNoMoreMemoryAndTakeNothingNewFromTheSystem()
    {
        var choice = FashionMnist();
        var dataset = DatasetCatalog.Limit(choice.Dataset, Count);
        var rng = new Rng(3);
        var backbone = Backbones.Create("resnet18", ResNetStem.Cifar, 0.0625, 1, ref rng);
        var test = FeatureExtractor.Extract(backbone, dataset, choice.Evaluation, Device.Cpu, batchSize: Count, workers: 1);
        // Batch 6 over 16 images: two full batches and a short one (the narrowed-view path) every epoch.
        var probe = new AugmentedLinearProbe(epochs: 4, batchSize: 6, lr: 0.1, weightDecay: 1e-6, seed: 2, workers: 2);
        var inUse = new List<long>();
        var fromSystem = new List<long>();
        var losses = new List<double>();
        var accuracy = probe.Run(backbone, dataset, choice.LinearTrain, test, choice.Dataset.Classes.Count, Device.Cpu, (_, loss) =>
        {
            losses.Add(loss);
            inUse.Add(CpuBackend.Instance.MemoryStatistics.BytesInUse);
            fromSystem.Add(CpuBackend.Instance.MemoryStatistics.SystemAllocations);
        });
        Assert.Equal(4, losses.Count);
        Assert.All(losses, l => Assert.True(double.IsFinite(l) && l > 0, $"loss {l}"));
        Assert.InRange(accuracy.Top1, 0, 100);
        for (int e = 2; e < 4; e++)
        {
            Assert.True(inUse[e] == inUse[1], $"epoch {e + 1} ends with {inUse[e]} bytes in use, epoch 2 with {inUse[1]}");
            Assert.True(fromSystem[e] == fromSystem[1], $"epoch {e + 1} took {fromSystem[e] - fromSystem[1]} new buffers from the system");
        }
    }

    [SkippableFact]
    public void ACancelledRunStopsWithOperationCanceled()
    {
        var choice = FashionMnist();
        var dataset = DatasetCatalog.Limit(choice.Dataset, Count);
        var test = FeatureExtractor.Extract(null, dataset, choice.Evaluation, Device.Cpu, batchSize: Count, workers: 1);
        var probe = new AugmentedLinearProbe(epochs: 2, batchSize: 8, lr: 0.1, weightDecay: 0, seed: 1, workers: 1);
        using var stop = new CancellationTokenSource();
        int epochs = 0;
        stop.Cancel();
        Assert.Throws<OperationCanceledException>(() =>
            probe.Run(null, dataset, choice.LinearTrain, test, choice.Dataset.Classes.Count, Device.Cpu, (_, _) => epochs++, stop.Token));
        Assert.Equal(0, epochs);
    }
}
