using Vicreg.Engine;
using Vicreg.Engine.Backends.Cpu;
using Vicreg.Engine.Inference;
using Vicreg.Training;

namespace Vicreg.Tests.App.Training;

/// <summary>The linear head's learning rate chosen on held-out training rows: the best validation top-1 wins
/// whatever its place in the list, the held-out rows are a class-balanced draw that the candidates never train on,
/// and a tie keeps the first candidate.</summary>
public class HeadLearningRateSelectionTests
{
    /// <summary>Three Gaussian clusters in 7 dimensions (233 rows, uneven classes): a trained head separates them,
    /// a head that never moves from its N(0, 0.01) initialization does not.</summary>
    private static FeatureSet Clusters()
    {
        const int dimension = 7, count = 233;
        var rng = new Rng(41);
        var values = new float[count * dimension];
        var labels = new int[count];
        for (int i = 0; i < count; i++)
        {
            labels[i] = i % 5 == 0 ? 2 : i % 2; // classes of 93, 93 and 47 rows
            for (int j = 0; j < dimension; j++)
                values[i * dimension + j] = (float)(0.6 * rng.NextNormal() + (j == labels[i] ? 3.0 : 0.0) - (j == 6 ? labels[i] : 0));
        }
        return new FeatureSet(values, labels, dimension, Enumerable.Range(0, count).ToArray());
    }

    /// <summary>A real head: 6 epochs of the probe at the given rate, scored on the validation rows.</summary>
    private static double Trained(double lr, FeatureSet fit, FeatureSet validation)
        => new LinearProbe(epochs: 6, batchSize: 32, lr, weightDecay: 0, seed: 3).Run(fit, validation, 3, CpuBackend.Instance).Top1;

    [Theory]
    [InlineData(new[] { 0.0, 0.5 })]
    [InlineData(new[] { 0.5, 0.0 })]
    [InlineData(new[] { 0.0, 0.5, 0.0001 })]
    public void TheCandidateWithTheBestValidationTop1IsChosenWhereverItIsListed(double[] candidates)
    {
        var choice = HeadLearningRateSelection.Choose(candidates, 20, seed: 5, Clusters(), 3, Trained);
        Assert.Equal(0.5, choice.LearningRate);
        Assert.Equal(candidates, choice.Trials.Select(t => t.LearningRate));
        var trained = choice.Trials.Single(t => t.LearningRate == 0.5).ValidationTop1;
        var untrained = choice.Trials.Single(t => t.LearningRate == 0.0).ValidationTop1;
        Assert.True(trained > 90, $"separable clusters: {trained}%");
        Assert.True(untrained < trained - 20, $"an untrained head scored {untrained}% against {trained}%");
    }

    [Fact]
    public void TheHeldOutRowsAreTheClassBalancedDrawAndTheCandidatesTrainOnTheRest()
    {
        var train = Clusters();
        var seen = new List<(int[] Fit, int[] Validation)>();
        var choice = HeadLearningRateSelection.Choose([0.1, 0.2], 20, seed: 5, train, 3, (_, fit, validation) =>
        {
            seen.Add((fit.Indices, validation.Indices));
            return 50;
        });
        var expected = LabelSubset.Select(train.Labels, 3, 20, seed: 5);
        Assert.Equal(expected.Length, choice.ValidationCount);
        Assert.Equal(19 + 19 + 9, choice.ValidationCount); // round(20%) of 93, 93 and 47
        Assert.All(seen, s => Assert.Equal(expected, s.Validation));
        Assert.All(seen, s => Assert.Equal(Enumerable.Range(0, 233).Except(expected), s.Fit));
        Assert.Equal(2, seen.Count);
    }

    [Fact]
    public void ATieKeepsTheFirstCandidate()
    {
        var choice = HeadLearningRateSelection.Choose([0.3, 0.1, 0.2], 20, seed: 5, Clusters(), 3, (_, _, _) => 50);
        Assert.Equal(0.3, choice.LearningRate);
    }

    [Fact]
    public void HoldingOutEveryRowIsRefused()
    {
        var one = new FeatureSet([1f, 2f], [0, 1], 1, [0, 1]);
        Assert.Throws<ArgumentException>(() => HeadLearningRateSelection.Choose([0.1], 10, seed: 1, one, 2, (_, _, _) => 0));
    }
}
