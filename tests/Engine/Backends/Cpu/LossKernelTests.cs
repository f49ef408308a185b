using Vicreg.Engine;
using static Vicreg.Tests.Engine.Backends.Cpu.KernelTestSupport;

namespace Vicreg.Tests.Engine.Backends.Cpu;

[Collection(ThreadCountCollection.Name)]
public class LossKernelTests
{
    public static TheoryData<int, int, double, int> Cases()
    {
        var data = new TheoryData<int, int, double, int>();
        foreach (var (rows, classes) in new[] { (1, 1), (1, 7), (3, 10), (7, 31), (2, 33), (300, 129) })
            foreach (double scale in new[] { 3.0, 1000.0 })
                foreach (int threads in new[] { 1, 2 })
                    data.Add(rows, classes, scale, threads);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void CrossEntropyMatchesLogSumExpInDouble(int rows, int classes, double logitScale, int threads)
    {
        using var _ = Threads(threads);
        using var scope = TensorScope.Begin();
        foreach (var dtype in FloatTypes)
        {
            var rng = Rng.ForKey(67, (ulong)(rows * 1000 + classes), (ulong)logitScale, (ulong)dtype);
            var (logits, lv) = Random(ref rng, new Shape(rows, classes), dtype, logitScale);
            var labelValues = new int[rows];
            for (int r = 0; r < rows; r++) labelValues[r] = rng.NextInt(classes);
            var labels = Tensor.FromArray<int>(labelValues, new Shape(rows), Host);
            var probabilities = Garbage(logits.Shape, dtype);
            var loss = Garbage(new Shape(1), dtype);
            Host.SoftmaxCrossEntropy(logits, labels, probabilities, loss);

            var expectedP = new double[rows * classes];
            double total = 0;
            for (int r = 0; r < rows; r++)
            {
                double max = double.NegativeInfinity;
                for (int k = 0; k < classes; k++) max = Math.Max(max, lv[r * classes + k]);
                double sum = 0;
                for (int k = 0; k < classes; k++) sum += Math.Exp(lv[r * classes + k] - max);
                double lse = max + Math.Log(sum);
                for (int k = 0; k < classes; k++) expectedP[r * classes + k] = Math.Exp(lv[r * classes + k] - lse);
                total += lse - lv[r * classes + labelValues[r]];
            }
            string what = $"{dtype.Name()} [{rows},{classes}] logits ±{logitScale}";
            double tol = Tolerance(dtype) * 4;
            AssertClose(expectedP, Read(probabilities), tol, "probabilities " + what);
            AssertClose([total / rows], Read(loss), tol, "loss " + what);
            Assert.True(double.IsFinite(loss.Item()), "loss is finite " + what);

            var dlogits = Garbage(logits.Shape, dtype);
            Host.SoftmaxCrossEntropyBackward(probabilities, labels, 1.0 / rows, dlogits);
            var pv = Read(probabilities);
            var expectedD = new double[rows * classes];
            for (int r = 0; r < rows; r++)
                for (int k = 0; k < classes; k++)
                    expectedD[r * classes + k] = (pv[r * classes + k] - (k == labelValues[r] ? 1 : 0)) / rows;
            AssertClose(expectedD, Read(dlogits), Tolerance(dtype), "dlogits " + what);

            // In place: probabilities over the logits, then the gradient over the probabilities.
            Host.SoftmaxCrossEntropy(logits, labels, logits, loss);
            AssertClose(expectedP, Read(logits), tol, "in-place probabilities " + what);
            AssertClose([total / rows], Read(loss), tol, "in-place loss " + what);
            Host.SoftmaxCrossEntropyBackward(logits, labels, 1.0 / rows, logits);
            AssertClose(expectedD, Read(logits), Tolerance(dtype), "in-place dlogits " + what);
        }
    }

    [Fact]
    public void ALabelOutsideTheClassesNamesTheLabelAndTheRow()
    {
        using var scope = TensorScope.Begin();
        var logits = Tensor.Full(new Shape(3, 4), 0.5, DType.Float32, Host);
        var probabilities = Garbage(logits.Shape, DType.Float32);
        var loss = Garbage(new Shape(1), DType.Float32);
        var labels = Tensor.FromArray<int>([0, 3, 4], new Shape(3), Host);
        var e = Assert.ThrowsAny<ArgumentException>(() => Host.SoftmaxCrossEntropy(logits, labels, probabilities, loss));
        Assert.Contains("label 4", e.Message);
        Assert.Contains("row 2", e.Message);
        var negative = Tensor.FromArray<int>([-1, 0, 0], new Shape(3), Host);
        e = Assert.ThrowsAny<ArgumentException>(() => Host.SoftmaxCrossEntropyBackward(probabilities, negative, 1, probabilities));
        Assert.Contains("label -1", e.Message);
        Assert.Contains("row 0", e.Message);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void CrossEntropyAllocatesNothing(int threads)
    {
        using var _ = Threads(threads);
        using var scope = TensorScope.Begin();
        var rng = new Rng(103);
        var (logits, _) = Random(ref rng, new Shape(300, 129), DType.Float32);
        var labelValues = new int[300];
        for (int r = 0; r < 300; r++) labelValues[r] = rng.NextInt(129);
        var labels = Tensor.FromArray<int>(labelValues, new Shape(300), Host);
        var p = Garbage(logits.Shape, DType.Float32);
        var loss = Garbage(new Shape(1), DType.Float32);
        var d = Garbage(logits.Shape, DType.Float32);
        Assert.Equal(0, AllocationCheck.BytesAllocated(() =>
        {
            Host.SoftmaxCrossEntropy(logits, labels, p, loss);
            Host.SoftmaxCrossEntropyBackward(p, labels, 1.0 / 300, d);
        }));
    }

    [Fact]
    public void TheMeanLossHasTheSameBitsOnOneThreadOrTwo()
    {
        using var scope = TensorScope.Begin();
        var rng = new Rng(127);
        var (logits, _) = Random(ref rng, new Shape(301, 257), DType.Float32, 10);
        var labelValues = new int[301];
        for (int r = 0; r < 301; r++) labelValues[r] = rng.NextInt(257);
        var labels = Tensor.FromArray<int>(labelValues, new Shape(301), Host);
        double Run(int threads)
        {
            using var _ = Threads(threads);
            using var inner = TensorScope.Begin();
            var p = Garbage(logits.Shape, DType.Float32);
            var loss = Garbage(new Shape(1), DType.Float32);
            Host.SoftmaxCrossEntropy(logits, labels, p, loss);
            return loss.Item();
        }
        Assert.Equal(Run(1), Run(2));
    }
}
