using Vicreg.Engine;
using static Vicreg.Tests.Engine.Backends.Cpu.KernelTestSupport;

namespace Vicreg.Tests.Engine.Backends.Cpu;

[Collection(ThreadCountCollection.Name)]
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
            new Pool2dGeometry(1, 2, 3, 4099, 3, 3, 2, 2, 1, 1), // rows wider than the vectorized path takes
        };
        foreach (var g in shapes)
            foreach (int threads in new[] { 1, 2 })
                data.Add(g, threads);
        return data;
    }

    /// <summary>PyTorch's CPU max pooling, as written there: scan each window in row-major order and take
    /// v when v &gt; max or v is NaN; padding is never a candidate.</summary>
    private static (double[] Y, double[] Argmax) ReferenceForward(Pool2dGeometry g, double[] xv)
    {
        int planes = g.Batch * g.Channels, plane = g.InHeight * g.InWidth, outPlane = g.OutHeight * g.OutWidth;
        var y = new double[planes * outPlane];
        var argmax = new double[planes * outPlane];
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
                            if (r < 0 || r >= g.InHeight || col < 0 || col >= g.InWidth) continue;
                            double v = xv[p * plane + r * g.InWidth + col];
                            if (bestIndex < 0) bestIndex = r * g.InWidth + col;
                            if (v > best || double.IsNaN(v)) { best = v; bestIndex = r * g.InWidth + col; }
                        }
                    y[p * outPlane + i * g.OutWidth + j] = best;
                    argmax[p * outPlane + i * g.OutWidth + j] = bestIndex;
                }
        return (y, argmax);
    }

    private static void CheckForwardAndBackward(Pool2dGeometry g, DType dtype, double[] values, ref Rng rng, string what)
    {
        var x = Make(values, g.InputShape, dtype);
        var xv = Read(x);
        var y = Garbage(g.OutputShape, dtype);
        var argmax = Tensor.Full(g.OutputShape, -7, DType.Int32, Host);
        Host.MaxPool2dForward(g, x, y, argmax);
        var (expectedY, expectedArg) = ReferenceForward(g, xv);
        Assert.Equal(expectedArg, Read(argmax));
        Assert.Equal(expectedY, Read(y));

        int planes = g.Batch * g.Channels, plane = g.InHeight * g.InWidth, outPlane = g.OutHeight * g.OutWidth;
        var (dy, dyv) = Random(ref rng, g.OutputShape, dtype);
        var dx = Garbage(g.InputShape, dtype);
        Host.MaxPool2dBackward(g, dy, argmax, dx);
        var expectedDx = new double[planes * plane];
        for (int p = 0; p < planes; p++)
            for (int k = 0; k < outPlane; k++)
                expectedDx[p * plane + (int)expectedArg[p * outPlane + k]] += dyv[p * outPlane + k];
        AssertClose(expectedDx, Read(dx), Tolerance(dtype), $"dx {what}");
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
            CheckForwardAndBackward(g, dtype, RandomValues(ref rng, g.InputShape.Numel), ref rng, $"{dtype.Name()} {g}");
        }
    }

    [Theory]
    [MemberData(nameof(Geometries))]
    public void TiesAndNaNsResolveAsPyTorch(Pool2dGeometry g, int threads)
    {
        // ReLU output pooled: many windows of equal values (zeros); a few NaNs and infinities besides.
        using var _ = Threads(threads);
        using var scope = TensorScope.Begin();
        foreach (var dtype in FloatTypes)
        {
            var rng = Rng.ForKey(62, (ulong)g.GetHashCode(), (ulong)dtype);
            var values = Array.ConvertAll(RandomValues(ref rng, g.InputShape.Numel), v => Math.Max(0, Math.Round(v)));
            for (int i = 0; i < values.Length; i++)
            {
                double u = rng.NextDouble();
                if (u < 0.05) values[i] = double.NaN;
                else if (u < 0.08) values[i] = double.NegativeInfinity;
            }
            CheckForwardAndBackward(g, dtype, values, ref rng, $"ties {dtype.Name()} {g}");
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

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void PoolingAllocatesNothing(int threads)
    {
        using var _ = Threads(threads);
        using var scope = TensorScope.Begin();
        var g = new Pool2dGeometry(4, 8, 33, 35, 3, 3, 2, 2, 1, 1);
        var rng = new Rng(101);
        var (x, _) = Random(ref rng, g.InputShape, DType.Float32);
        var y = Garbage(g.OutputShape, DType.Float32);
        var argmax = Tensor.Full(g.OutputShape, 0, DType.Int32, Host);
        var dx = Garbage(g.InputShape, DType.Float32);
        Assert.Equal(0, AllocationCheck.BytesAllocated(() =>
        {
            Host.MaxPool2dForward(g, x, y, argmax);
            Host.MaxPool2dBackward(g, y, argmax, dx);
        }));
    }
}
