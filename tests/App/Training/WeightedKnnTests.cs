using Vicreg.Engine.Inference;
using Vicreg.Engine;
using Vicreg.Engine.Backends.Cpu;
using Vicreg.Engine.IO;
using Vicreg.Tests.Engine.IO;
using Vicreg.Training;

namespace Vicreg.Tests.App.Training;

/// <summary>The weighted kNN classifier against a case worked by hand, a brute-force recomputation in double
/// (every similarity, a full sort) at awkward sizes and block sizes, and solo-learn's formula in PyTorch.</summary>
public class WeightedKnnTests
{
    /// <summary>Features with a different norm per row (normalization must take it out) and labels 0 .. classes-1.</summary>
    private static FeatureSet Random(int count, int d, int classes, ulong seed)
    {
        var rng = new Rng(seed);
        var values = new float[count * d];
        var labels = new int[count];
        for (int i = 0; i < count; i++)
        {
            labels[i] = rng.NextInt(classes);
            double scale = 0.5 + 3 * rng.NextDouble();
            // A label-dependent offset, so neighbours mostly share the label and the accuracy is far from chance.
            for (int j = 0; j < d; j++) values[i * d + j] = (float)(scale * (rng.NextNormal() + (j % classes == labels[i] ? 1.5 : 0)));
        }
        return new FeatureSet(values, labels, d, [.. Enumerable.Range(0, labels.Length)]);
    }

    /// <summary>The definition written plainly: normalize in double, all similarities, sort by (similarity desc, index asc), take k, vote.</summary>
    private static double[] BruteForceVotes(FeatureSet train, FeatureSet test, int classes, int k, double temperature)
    {
        int d = train.Dimension;
        double[] Unit(FeatureSet f, int i)
        {
            var row = new double[d];
            double norm = 0;
            for (int j = 0; j < d; j++) norm += (double)f.Values[i * d + j] * f.Values[i * d + j];
            norm = Math.Max(Math.Sqrt(norm), 1e-12);
            for (int j = 0; j < d; j++) row[j] = f.Values[i * d + j] / norm;
            return row;
        }
        var votes = new double[test.Count * classes];
        for (int q = 0; q < test.Count; q++)
        {
            var x = Unit(test, q);
            var all = Enumerable.Range(0, train.Count).Select(i =>
            {
                var t = Unit(train, i);
                double s = 0;
                for (int j = 0; j < d; j++) s += x[j] * t[j];
                return (Similarity: s, Index: i);
            }).OrderByDescending(p => p.Similarity).ThenBy(p => p.Index).Take(k);
            foreach (var (s, i) in all) votes[q * classes + train.Labels[i]] += Math.Exp(s / temperature);
        }
        return votes;
    }

    [Fact]
    public void HandWorkedCase()
    {
        // Train (label): (1,0) 0, (0,1) 1, (-3,0) 2, (1,1) 1.  Test: (2,0) label 0 and (0,-5) label 2.
        var train = new FeatureSet([1, 0, 0, 1, -3, 0, 1, 1], [0, 1, 2, 1], 2, [0, 1, 2, 3]);
        var test = new FeatureSet([2, 0, 0, -5], [0, 2], 2, [0, 1]);
        // k = 2, T = 0.5: (2,0) is nearest (1,0) (similarity 1) and (1,1) (1/sqrt 2): votes e^2 for class 0, e^(sqrt 2) for class 1.
        // (0,-5) has similarity 0 to both (1,0) and (-3,0): one vote of e^0 = 1 each for classes 0 and 2.
        var votes = new WeightedKnn(2, 0.5).Votes(train, test, 3, CpuBackend.Instance);
        double[] expected = [Math.Exp(2), Math.Exp(Math.Sqrt(2)), 0, 1, 0, 1];
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], votes[i], 5);
        // The tie (class 0 and the true class 2 both at 1) favours the true class: both are top-1 hits.
        Assert.Equal(new ProbeAccuracy(100, 100), new WeightedKnn(2, 0.5).Evaluate(train, test, 3, CpuBackend.Instance));

        // k = 1: of the two equal similarities the first training sample, (1,0), wins; the true class 2 gets no vote
        // and ranks below the unvoted class 1, so (0,-5) is a miss at top-1 and a hit only because top-3 is every class.
        votes = new WeightedKnn(1, 0.5).Votes(train, test, 3, CpuBackend.Instance);
        expected = [Math.Exp(2), 0, 0, 1, 0, 0];
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], votes[i], 5);
        Assert.Equal(new ProbeAccuracy(50, 100), new WeightedKnn(1, 0.5).Evaluate(train, test, 3, CpuBackend.Instance));
        // With 7 classes top-5 is no longer every class: the unvoted true class 2 is behind 0, 1, 3, 4, 5 and 6.
        Assert.Equal(new ProbeAccuracy(50, 50), new WeightedKnn(1, 0.5).Evaluate(train, test, 7, CpuBackend.Instance));
    }

    [Theory]
    [InlineData(37, 13, 5, 4, 1, 0.1, 1 << 23)]
    [InlineData(37, 13, 5, 4, 7, 0.07, 37 * 3)]   // blocks of 3 test rows, the last one short
    [InlineData(37, 13, 5, 4, 37, 0.1, 37)]       // k = every training sample, one test row per block
    [InlineData(29, 11, 1, 3, 50, 0.5, 1 << 23)]  // k above the training count; 1-d features (similarities are +-1: ties everywhere)
    [InlineData(61, 17, 9, 7, 13, 0.1, 61 * 5)]
    public void VotesEqualTheBruteForceDefinition(int trainCount, int testCount, int d, int classes, int k, double temperature, int block)
    {
        var train = Random(trainCount, d, classes, (ulong)(trainCount * 31 + d));
        var test = Random(testCount, d, classes, (ulong)(testCount * 17 + k));
        var knn = new WeightedKnn(k, temperature) { SimilaritiesPerBlock = block };
        var votes = knn.Votes(train, test, classes, CpuBackend.Instance);
        var expected = BruteForceVotes(train, test, classes, Math.Min(k, trainCount), temperature);
        for (int q = 0; q < testCount; q++)
        {
            double scale = Enumerable.Range(0, classes).Max(c => expected[q * classes + c]);
            for (int c = 0; c < classes; c++)
            {
                int i = q * classes + c;
                Assert.True(Math.Abs(votes[i] - expected[i]) <= 1e-5 * scale, $"test {q} class {c}: ours {votes[i]:G9}, brute force {expected[i]:G9}");
            }
        }
        var accuracy = knn.Evaluate(train, test, classes, CpuBackend.Instance);
        Assert.Equal(LinearProbe.Accuracy<double>(expected.Select((v, i) => v == 0 && i % classes == test.Labels[i / classes] ? -1 : v).ToArray(), test.Labels, classes), accuracy);
    }

    [Fact]
    public void LabelsOutsideTheClassesAndMismatchedDimensionsAreRefused()
    {
        var train = Random(5, 3, 2, 1);
        Assert.Throws<ArgumentException>(() => new WeightedKnn(3).Votes(train, Random(4, 3, 4, 2), 2, CpuBackend.Instance));
        Assert.Throws<ArgumentException>(() => new WeightedKnn(3).Votes(train, Random(4, 2, 2, 2), 2, CpuBackend.Instance));
        Assert.Throws<ArgumentOutOfRangeException>(() => new WeightedKnn(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new WeightedKnn(3, 0.001));
    }

    [SkippableFact]
    [Trait("Reference", "PyTorch")]
    public void MatchesSoloLearnsFormulaInPyTorch()
    {
        PythonReference.SkipUnlessTorch();
        const int classes = 6, k = 20;
        var train = Random(211, 23, classes, 41);
        var test = Random(53, 23, classes, 42);
        using var dir = new TempFolder();
        using (var scope = TensorScope.Begin())
            SafetensorsWriter.Write(dir.File("in.safetensors"),
            [
                ("train_x", Tensor.FromArray<float>(train.Values, new Shape(train.Count, 23))),
                ("train_y", Tensor.FromArray<int>(train.Labels, new Shape(train.Count))),
                ("test_x", Tensor.FromArray<float>(test.Values, new Shape(test.Count, 23))),
                ("test_y", Tensor.FromArray<int>(test.Labels, new Shape(test.Count))),
            ]);
        PythonReference.RunScript("knn_reference.py", dir.File("in.safetensors"), dir.File("out.safetensors"), k.ToString(), "0.1");
        using var r = new SafetensorsReader(dir.File("out.safetensors"));
        using var scope2 = TensorScope.Begin();
        var expected = r.ReadTensor("votes").ToArray<double>();
        var knn = new WeightedKnn(k, 0.1);
        var votes = knn.Votes(train, test, classes, CpuBackend.Instance);
        Assert.Equal(expected.Length, votes.Length);
        for (int i = 0; i < votes.Length; i++)
            Assert.True(Math.Abs(votes[i] - expected[i]) <= 1e-5 * Math.Max(1, expected[i]), $"vote {i}: PyTorch {expected[i]:G9}, ours {votes[i]:G9}");
        var accuracy = knn.Evaluate(train, test, classes, CpuBackend.Instance);
        Assert.Equal(r.ReadTensor("top1").Item(), accuracy.Top1, 9);
        Assert.Equal(r.ReadTensor("top5").Item(), accuracy.Top5, 9);
        Assert.InRange(accuracy.Top1, 50, 100); // the features carry their label: far above chance (17%)
    }
}
