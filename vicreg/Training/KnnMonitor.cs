using System.Diagnostics;
using Vicreg.Engine.Inference;
using Vicreg.Engine;
using Vicreg.Engine.Data;
using Vicreg.Engine.Nn;

namespace Vicreg.Training;

/// <summary>What one kNN measurement during pretraining found, and what it cost.</summary>
public readonly record struct KnnMeasurement(ProbeAccuracy Accuracy, int BankSize, int Queries, TimeSpan Cost);

/// <summary>
/// `pretrain --knn-every N`: the weighted kNN accuracy (<see cref="WeightedKnn"/>, k 200, T 0.1) of the backbone as
/// it trains, the labels it never saw during pretraining doing the scoring: features of a bank of training images
/// and of held-out test images through the evaluation transform, the backbone in eval mode (no statistics
/// updated, no randomness drawn from the run), and training mode restored after, so a run with the monitor trains
/// exactly as one without it.
/// </summary>
public sealed class KnnMonitor(IImageDataset bank, IImageDataset queries, IImageTransform view, int classes, int batchSize, int workers)
{
    public KnnMeasurement Measure(Module backbone, IBackend backend)
    {
        var clock = Stopwatch.StartNew();
        try
        {
            var train = FeatureExtractor.Extract(backbone, bank, view, backend, batchSize, workers);
            var test = FeatureExtractor.Extract(backbone, queries, view, backend, batchSize, workers);
            var accuracy = new WeightedKnn().Evaluate(train, test, classes, backend);
            return new KnnMeasurement(accuracy, train.Count, test.Count, clock.Elapsed);
        }
        finally
        {
            backbone.Train();
        }
    }
}
