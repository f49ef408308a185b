using Vicreg.Engine;
using static Vicreg.Tests.Engine.Cpu.KernelTestSupport;

namespace Vicreg.Tests.Engine.Cpu;

[Collection(CpuThreadCountCollection.Name)]
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
}
