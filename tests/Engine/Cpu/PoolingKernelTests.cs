using Vicreg.Engine;
using static Vicreg.Tests.Engine.Cpu.KernelTestSupport;

namespace Vicreg.Tests.Engine.Cpu;

[Collection(CpuThreadCountCollection.Name)]
public class PoolingKernelTests
{
    public static TheoryData<Pool2dGeometry, int> Geometries()
    {
        var data = new TheoryData<Pool2dGeometry, int>();
        var shapes = new[]
        {
            new Pool2dGeometry(1, 1, 1, 1, 1, 1, 1, 1, 0, 0),
            new Pool2dGeometry(2, 3, 7, 5, 3, 3, 2, 2, 1, 1),   // ResNet's stem pool on an odd plane
            new Pool2dGeometry(3, 5, 9, 9, 2, 2, 2, 2, 0, 0),
            new Pool2dGeometry(1, 17, 6, 11, 3, 2, 1, 3, 1, 1),
            new Pool2dGeometry(2, 2, 5, 5, 2, 2, 2, 2, 1, 1),   // overlapping padding on both sides
            new Pool2dGeometry(7, 3, 33, 31, 3, 3, 2, 2, 1, 1), // above the parallel threshold
        };
        foreach (var g in shapes)
            foreach (int threads in new[] { 1, 2 })
                data.Add(g, threads);
        return data;
    }

    [Theory]
    [MemberData(nameof(Geometries))]
    public void ForwardTakesTheFirstMaximumOfEachWindowAndBackwardScattersToIt(Pool2dGeometry g, int threads)
    {
        using var _ = Threads(threads);
        using var scope = TensorScope.Begin();
        foreach (var dtype in FloatTypes)
        {
            var rng = Rng.ForKey(61, (ulong)g.GetHashCode(), (ulong)dtype);
            var (x, xv) = Random(ref rng, g.InputShape, dtype);
            var y = Garbage(g.OutputShape, dtype);
            var argmax = Tensor.Full(g.OutputShape, -7, DType.Int32, Host);
            Host.MaxPool2dForward(g, x, y, argmax);

            int planes = g.Batch * g.Channels, plane = g.InHeight * g.InWidth, outPlane = g.OutHeight * g.OutWidth;
            var expectedY = new double[planes * outPlane];
            var expectedArg = new double[planes * outPlane];
            for (int p = 0; p < planes; p++)
                for (int i = 0; i < g.OutHeight; i++)
                    for (int j = 0; j < g.OutWidth; j++)
                    {
                        double best = double.NegativeInfinity;
                        int bestIndex = -1;
                        for (int kh = 0; kh < g.KernelHeight; kh++)
                            for (int kw = 0; kw < g.KernelWidth; kw++)
                            {
                                int r = i * g.StrideHeight - g.PadHeight + kh, col = j * g.StrideWidth - g.PadWidth + kw;
                                if (r < 0 || r >= g.InHeight || col < 0 || col >= g.InWidth) continue; // padding is -inf
                                double v = xv[p * plane + r * g.InWidth + col];
                                if (v > best) { best = v; bestIndex = r * g.InWidth + col; }
                            }
                        expectedY[p * outPlane + i * g.OutWidth + j] = best;
                        expectedArg[p * outPlane + i * g.OutWidth + j] = bestIndex;
                    }
            Assert.Equal(expectedY, Read(y));
            Assert.Equal(expectedArg, Read(argmax));

            var (dy, dyv) = Random(ref rng, g.OutputShape, dtype);
            var dx = Garbage(g.InputShape, dtype);
            Host.MaxPool2dBackward(g, dy, argmax, dx);
            var expectedDx = new double[planes * plane];
            for (int p = 0; p < planes; p++)
                for (int k = 0; k < outPlane; k++)
                    expectedDx[p * plane + (int)expectedArg[p * outPlane + k]] += dyv[p * outPlane + k];
            AssertClose(expectedDx, Read(dx), Tolerance(dtype), $"dx {dtype.Name()} {g}");
        }
    }

    [Fact]
    public void TiesGoToTheFirstElementInWindowOrder()
    {
        using var scope = TensorScope.Begin();
        var g = new Pool2dGeometry(1, 1, 2, 2, 2, 2, 2, 2, 0, 0);
        var x = Tensor.FromArray<float>([1f, 3f, 3f, 3f], g.InputShape, Host);
        var y = Garbage(g.OutputShape, DType.Float32);
        var argmax = Tensor.Full(g.OutputShape, -1, DType.Int32, Host);
        Host.MaxPool2dForward(g, x, y, argmax);
        Assert.Equal(3f, y.ToArray<float>()[0]);
        Assert.Equal(1, argmax.ToArray<int>()[0]);
    }

    [Fact]
    public void WrongSizesAndIndicesThrow()
    {
        using var scope = TensorScope.Begin();
        var g = new Pool2dGeometry(1, 2, 4, 4, 2, 2, 2, 2, 0, 0);
        var x = Tensor.Full(g.InputShape, 1, DType.Float32, Host);
        var y = Tensor.Full(g.OutputShape, 1, DType.Float32, Host);
        var wrong = Tensor.Full(new Shape(3), 1, DType.Float32, Host);
        var argmax = Tensor.Full(g.OutputShape, 0, DType.Int32, Host);
        var floatArgmax = Tensor.Full(g.OutputShape, 0, DType.Float32, Host);
        Assert.Throws<ShapeMismatchException>(() => Host.MaxPool2dForward(g, x, wrong, argmax));
        Assert.Throws<ShapeMismatchException>(() => Host.MaxPool2dForward(g, x, y, floatArgmax));
        Assert.Throws<ShapeMismatchException>(() => Host.MaxPool2dBackward(g, y, argmax, wrong));
        var bad = Tensor.Full(g.OutputShape, 16, DType.Int32, Host);
        Assert.Throws<ArgumentException>(() => Host.MaxPool2dBackward(g, y, bad, x));
    }
}
