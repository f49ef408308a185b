using Vicreg.Engine;
using static Vicreg.Tests.Engine.Backends.Cpu.KernelTestSupport;

namespace Vicreg.Tests.Engine.Backends.Cpu;

[Collection(ThreadCountCollection.Name)]
public class ReductionKernelTests
{
    public static TheoryData<int, int, int, int> Shapes()
    {
        var data = new TheoryData<int, int, int, int>();
        // Includes [N, C] (inner 1), single channels, column blocks over 256 wide, and sizes above the parallel threshold.
        foreach (var (o, m, i) in new[] { (1, 1, 1), (2, 3, 5), (3, 17, 1), (7, 5, 9), (2, 17, 49), (1, 7, 1), (1, 300, 131), (257, 131, 1), (3, 41, 300), (2, 5, 7001) })
            foreach (int threads in new[] { 1, 2 })
                data.Add(o, m, i, threads);
        return data;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void ChannelSumAddsOverOuterAndInner(int outer, int channels, int inner, int threads)
    {
        using var _ = Threads(threads);
        using var scope = TensorScope.Begin();
        foreach (var dtype in FloatTypes)
        {
            var rng = Rng.ForKey(23, (ulong)(outer * 1000 + channels), (ulong)inner, (ulong)dtype);
            var (x, xv) = Random(ref rng, new Shape(outer, channels, inner), dtype);
            var y = Garbage(new Shape(channels), dtype);
            Host.ChannelSum(x, outer, channels, inner, 0.25, y);
            var expected = new double[channels];
            for (int c = 0; c < channels; c++)
            {
                double s = 0;
                for (int o = 0; o < outer; o++)
                    for (int i = 0; i < inner; i++) s += xv[(o * channels + c) * inner + i];
                expected[c] = 0.25 * s;
            }
            // Sums accumulate in double, so even float32 results are within one rounding of the exact sum.
            AssertClose(expected, Read(y), Tolerance(dtype), $"ChannelSum {dtype.Name()} [{outer},{channels},{inner}]");
        }
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void ReduceSumAddsAlongTheMiddleAxis(int outer, int mid, int inner, int threads)
    {
        using var _ = Threads(threads);
        using var scope = TensorScope.Begin();
        foreach (var dtype in FloatTypes)
        {
            var rng = Rng.ForKey(29, (ulong)(outer * 1000 + mid), (ulong)inner, (ulong)dtype);
            var (x, xv) = Random(ref rng, new Shape(outer, mid, inner), dtype);
            var y = Garbage(new Shape(outer, inner), dtype);
            Host.ReduceSum(x, outer, mid, inner, -2.0, y);
            var expected = new double[outer * inner];
            for (int o = 0; o < outer; o++)
                for (int i = 0; i < inner; i++)
                {
                    double s = 0;
                    for (int m = 0; m < mid; m++) s += xv[(o * mid + m) * inner + i];
                    expected[o * inner + i] = -2.0 * s;
                }
            AssertClose(expected, Read(y), Tolerance(dtype), $"ReduceSum {dtype.Name()} [{outer},{mid},{inner}]");
        }
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(7, 1)]
    [InlineData(31, 2)]
    [InlineData(33, 1)]
    [InlineData(100_003, 1)]
    [InlineData(100_003, 2)]
    public void SumOfSquaresIsExactToTheLastRounding(int n, int threads)
    {
        using var _ = Threads(threads);
        using var scope = TensorScope.Begin();
        foreach (var dtype in FloatTypes)
        {
            var rng = Rng.ForKey(31, (ulong)n, (ulong)dtype);
            var (x, xv) = Random(ref rng, new Shape(n), dtype);
            var result = Garbage(new Shape(1), dtype);
            Host.SumOfSquares(x, result);
            double expected = 0;
            foreach (double v in xv) expected += v * v;
            // Double accumulation: float32 output is the exact sum rounded once (not n roundings).
            double tol = dtype == DType.Float32 ? 1e-7 : 1e-13;
            AssertClose([expected], Read(result), tol, $"SumOfSquares {dtype.Name()} n={n}");
        }
    }

    [Fact]
    public void ReductionsRepeatBitForBitAtAGivenThreadCount()
    {
        using var _ = Threads(2);
        using var scope = TensorScope.Begin();
        var rng = new Rng(37);
        var (x, _) = Random(ref rng, new Shape(3, 41, 1001), DType.Float32);
        var first = Garbage(new Shape(41), DType.Float32);
        var second = Garbage(new Shape(41), DType.Float32);
        Host.ChannelSum(x, 3, 41, 1001, 1, first);
        Host.ChannelSum(x, 3, 41, 1001, 1, second);
        Assert.Equal(first.ToArray<float>(), second.ToArray<float>());
        var s1 = Garbage(new Shape(1), DType.Float32);
        var s2 = Garbage(new Shape(1), DType.Float32);
        Host.SumOfSquares(x, s1);
        Host.SumOfSquares(x, s2);
        Assert.Equal(s1.ToArray<float>(), s2.ToArray<float>());
    }

    [Fact]
    public void WrongElementCountsThrow()
    {
        using var scope = TensorScope.Begin();
        var x = Tensor.Full(new Shape(2, 3, 4), 1, DType.Float32, Host);
        var y3 = Tensor.Full(new Shape(3), 1, DType.Float32, Host);
        var y4 = Tensor.Full(new Shape(4), 1, DType.Float32, Host);
        var r2 = Tensor.Full(new Shape(2), 1, DType.Float32, Host);
        Assert.Throws<ShapeMismatchException>(() => Host.ChannelSum(x, 2, 3, 4, 1, y4));
        Assert.Throws<ShapeMismatchException>(() => Host.ChannelSum(x, 2, 4, 4, 1, y4));
        Assert.Throws<ShapeMismatchException>(() => Host.ReduceSum(x, 2, 3, 4, 1, y3));
        Assert.Throws<ShapeMismatchException>(() => Host.SumOfSquares(x, r2));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void ReductionsAllocateNothing(int threads)
    {
        using var _ = Threads(threads);
        using var scope = TensorScope.Begin();
        var rng = new Rng(89);
        var (x, _) = Random(ref rng, new Shape(7, 33, 301), DType.Float32);
        var c = Garbage(new Shape(33), DType.Float32);
        var r = Garbage(new Shape(7, 301), DType.Float32);
        var s = Garbage(new Shape(1), DType.Float32);
        var columns = Garbage(new Shape(301), DType.Float32);
        Assert.Equal(0, AllocationCheck.BytesAllocated(() =>
        {
            Host.ChannelSum(x, 7, 33, 301, 1, c);
            Host.ChannelSum(x, 7 * 33, 301, 1, 1, columns);
            Host.ReduceSum(x, 7, 33, 301, 1, r);
            Host.SumOfSquares(x, s);
        }));
    }

    [Fact]
    public void ReductionsGiveTheSameBitsOnOneThreadOrTwo()
    {
        using var scope = TensorScope.Begin();
        var rng = new Rng(113);
        var (x, _) = Random(ref rng, new Shape(5, 37, 1001), DType.Float32);
        float[] Run(int threads)
        {
            using var _ = Threads(threads);
            using var inner = TensorScope.Begin();
            var s = Garbage(new Shape(1), DType.Float32);
            var c = Garbage(new Shape(37), DType.Float32);
            var r = Garbage(new Shape(5, 1001), DType.Float32);
            Host.SumOfSquares(x, s);
            Host.ChannelSum(x, 5, 37, 1001, 1, c);
            Host.ReduceSum(x, 5, 37, 1001, 1, r);
            return [.. s.ToArray<float>(), .. c.ToArray<float>(), .. r.ToArray<float>()];
        }
        Assert.Equal(Run(1), Run(2));
    }
}
