using Vicreg.Engine.Inference;
using Vicreg.Engine;
using Vicreg.Engine.Data;
using Vicreg.Engine.Nn;

namespace Vicreg.Training;

/// <summary>
/// The official linear-evaluation protocol (`linear-eval --augment`): every step the frozen backbone
/// (eval mode, no tape) sees a freshly augmented batch of the training split (the linear-evaluation
/// training transform: crop + flip), and the head (<see cref="LinearHead"/>) trains on those raw,
/// unstandardized features. The test split's features come from the evaluation transform.
/// Batches come from the engine's <see cref="DataLoader"/> seeded with <c>seed</c>, so a run is
/// deterministic for a seed and thread count.
/// </summary>
public sealed class AugmentedLinearProbe(int epochs, int batchSize, double lr, double weightDecay, ulong seed, int workers, bool strict = false)
{
    /// <summary>Training images skipped as unreadable by the last <see cref="Run"/> (their rows hold other images, with their labels).</summary>
    public long SkippedSamples { get; private set; }

    /// <summary>The loader of the training split: shuffled per epoch, a fresh draw of
    /// <paramref name="trainTransform"/> for every sample of every epoch, the last short batch kept.</summary>
    public DataLoader TrainingLoader(IImageDataset train, IImageTransform trainTransform) =>
        new(train, [trainTransform], new DataLoaderOptions
        {
            BatchSize = batchSize, Shuffle = true, DropLast = false, NumWorkers = workers, Seed = seed, Strict = strict,
        });

    /// <summary>Trains the head on augmented features of <paramref name="train"/> and reports its accuracy on
    /// <paramref name="test"/> (features of the evaluation transform, from <see cref="FeatureExtractor"/>).</summary>
    public ProbeAccuracy Run(Module? backbone, IImageDataset train, IImageTransform trainTransform, FeatureSet test, int classes,
        IBackend backend, Action<int, double>? onEpoch = null, CancellationToken cancel = default)
    {
        var head = new LinearHead(test.Dimension, classes, epochs, lr, weightDecay, seed, backend);
        using var frozen = new FrozenBackbone(backbone, backend, batchSize);
        using var loader = TrainingLoader(train, trainTransform);
        using var batchY = Tensor.Empty(new Shape(batchSize), DType.Int32, backend);
        for (int epoch = 0; epoch < epochs; epoch++)
        {
            double lossSum = 0;
            foreach (var batch in loader.Epoch(epoch))
            {
                cancel.ThrowIfCancellationRequested();
                using var scope = TensorScope.Begin();
                var x = frozen.Features(batch.Views[0]);
                if (x.Shape[1] != test.Dimension)
                    throw new ArgumentException($"training features have {x.Shape[1]} dimensions, test features {test.Dimension}");
                var y = batch.Count == batchSize ? batchY : batchY.NarrowView(0, batch.Count);
                y.CopyFrom<int>(batch.Labels.AsSpan<int>());
                lossSum += head.Step(x, y, epoch) * batch.Count;
            }
            onEpoch?.Invoke(epoch, lossSum / loader.SamplesPerEpoch);
        }
        SkippedSamples = loader.SkippedSamples;
        using var testX = TensorScope.Detach(Tensor.FromArray<float>(test.Values, new Shape(test.Count, test.Dimension), backend));
        return head.Evaluate(testX, test.Labels);
    }
}
