using Vicreg.Engine;
using static Vicreg.Tests.Engine.Backends.Cpu.KernelTestSupport;

namespace Vicreg.Tests.Engine.Backends.Cpu;

[Collection(ThreadCountCollection.Name)]
public class ElementwiseKernelTests
{
    // Awkward lengths: one element, below one vector, around it, and above the parallel threshold.
    public static TheoryData<int, int> SizesAndThreads()
    {
        var data = new TheoryData<int, int>();
        foreach (int n in new[] { 1, 7, 31, 33, 70_001 })
            foreach (int threads in new[] { 1, 2 })
                data.Add(n, threads);
        return data;
    }

    private static double ReferenceUnary(UnaryOp op, double x, double alpha) => op switch
    {
        UnaryOp.Copy => x,
        UnaryOp.Scale => alpha * x,
        UnaryOp.AddScalar => x + alpha,
        UnaryOp.Square => x * x,
        UnaryOp.Sqrt => Math.Sqrt(x),
        UnaryOp.Relu => Math.Max(x, 0),
        UnaryOp.Hinge => Math.Max(alpha - x, 0),
        UnaryOp.Exp => Math.Exp(x),
        UnaryOp.Log => Math.Log(x),
        UnaryOp.Reciprocal => 1 / x,
        UnaryOp.Tanh => Math.Tanh(x),
        UnaryOp.Pow => Math.Pow(x, alpha),
        UnaryOp.Gelu => 0.5 * x * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x))),
        _ => throw new ArgumentOutOfRangeException(nameof(op)),
    };

    private static double ReferenceBinary(BinaryOp op, double a, double b, double alpha) => op switch
    {
        BinaryOp.Add => a + b,
        BinaryOp.Sub => a - b,
        BinaryOp.Mul => a * b,
        BinaryOp.Div => a / b,
        BinaryOp.ReluBackward => a > 0 ? b : 0,
        BinaryOp.HingeBackward => a < alpha ? -b : 0,
        BinaryOp.Maximum => Math.Max(a, b),
        BinaryOp.Minimum => Math.Min(a, b),
        BinaryOp.MaxGradientShare => a < b ? 0 : a == b ? 0.5 : 1,
        BinaryOp.SelectNonZero => a != 0 ? b : -0.0,
        BinaryOp.SelectZero => a == 0 ? b : -0.0,
        BinaryOp.TanhBackward => b * (1 - a * a),
        BinaryOp.GeluBackward => b * GeluDerivative(a),
        _ => throw new ArgumentOutOfRangeException(nameof(op)),
    };

    private static double GeluDerivative(double x)
    {
        double beta = Math.Sqrt(2 / Math.PI), t = Math.Tanh(beta * (x + 0.044715 * x * x * x));
        return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * beta * (1 + 3 * 0.044715 * x * x);
    }

    [Theory]
    [MemberData(nameof(SizesAndThreads))]
    public void EveryUnaryOpMatchesTheScalarDefinition(int n, int threads)
    {
        using var _ = Threads(threads);
        using var scope = TensorScope.Begin();
        foreach (var dtype in FloatTypes)
            foreach (var op in Enum.GetValues<UnaryOp>())
            {
                var rng = Rng.ForKey(7, (ulong)n, (ulong)op, (ulong)dtype);
                bool positive = op is UnaryOp.Sqrt or UnaryOp.Log or UnaryOp.Pow;
                var values = positive ? PositiveValues(ref rng, n) : RandomValues(ref rng, n);
                var x = Make(values, new Shape(n), dtype);
                var xs = Read(x);
                double alpha = 0.37;
                var y = Garbage(new Shape(n), dtype);
                Host.Unary(op, x, y, alpha);
                var expected = Array.ConvertAll(xs, v => ReferenceUnary(op, v, alpha));
                AssertClose(expected, Read(y), Tolerance(dtype) * (op is UnaryOp.Exp or UnaryOp.Log ? 4 : 1), $"{op} {dtype.Name()} n={n}");

                // In place gives the same.
                Host.Unary(op, x, x, alpha);
                AssertClose(expected, Read(x), Tolerance(dtype) * 4, $"{op} in place {dtype.Name()} n={n}");
            }
    }

    [Fact]
    public void ExpAndLogAreAccurateOverAWideRange()
    {
        using var scope = TensorScope.Begin();
        foreach (var dtype in FloatTypes)
        {
            int n = 1001;
            var values = new double[n];
            for (int i = 0; i < n; i++) values[i] = -80 + 160.0 * i / (n - 1) + 1e-3;
            var x = Make(values, new Shape(n), dtype);
            var xs = Read(x);
            var y = Garbage(new Shape(n), dtype);
            Host.Unary(UnaryOp.Exp, x, y);
            AssertClose(Array.ConvertAll(xs, Math.Exp), Read(y), Tolerance(dtype) * 4, $"exp {dtype.Name()}");
            var pos = Make(Array.ConvertAll(values, v => Math.Exp(v / 4)), new Shape(n), dtype);
            var ps = Read(pos);
            Host.Unary(UnaryOp.Log, pos, y);
            // Log near 1 is near 0: compare with an absolute floor of 1.
            AssertClose(Array.ConvertAll(ps, Math.Log), Read(y), Tolerance(dtype) * 4, $"log {dtype.Name()}");
        }
    }

    [Theory]
    [MemberData(nameof(SizesAndThreads))]
    public void EveryBinaryOpMatchesTheScalarDefinition(int n, int threads)
    {
        using var _ = Threads(threads);
        using var scope = TensorScope.Begin();
        foreach (var dtype in FloatTypes)
            foreach (var op in Enum.GetValues<BinaryOp>())
            {
                var rng = Rng.ForKey(11, (ulong)n, (ulong)op, (ulong)dtype);
                var (a, av) = Random(ref rng, new Shape(n), dtype);
                var (b, bv) = Random(ref rng, new Shape(n), dtype);
                double alpha = 0.3;
                var y = Garbage(new Shape(n), dtype);
                Host.Binary(op, a, b, y, alpha);
                var expected = new double[n];
                for (int i = 0; i < n; i++) expected[i] = ReferenceBinary(op, av[i], bv[i], alpha);
                AssertClose(expected, Read(y), Tolerance(dtype), $"{op} {dtype.Name()} n={n}");
            }
    }

    [Fact]
    public void TanhIsAccurateFromTinyToSaturated()
    {
        using var scope = TensorScope.Begin();
        foreach (var dtype in FloatTypes)
        {
            // Both sides of the series/exp switch at |x| = 1/8, tiny values (relative accuracy), and saturation.
            var values = new List<double>();
            for (int i = 0; i < 400; i++) values.Add(0.11 + 0.04 * i / 400);
            for (int e = -30; e <= 1; e++) values.Add(Math.Pow(2, e) * 1.37);
            values.AddRange([5, 9.5, 20, 44, 100, 400]);
            var all = values.Concat(values.Select(v => -v)).ToArray();
            var x = Make(all, new Shape(all.Length), dtype);
            var xs = Read(x);
            var y = Garbage(x.Shape, dtype);
            Host.Unary(UnaryOp.Tanh, x, y);
            var got = Read(y);
            for (int i = 0; i < xs.Length; i++)
            {
                double expected = Math.Tanh(xs[i]);
                Assert.True(Math.Abs(got[i] - expected) <= Tolerance(dtype) * Math.Abs(expected),
                    $"tanh {dtype.Name()} of {xs[i]:R}: {got[i]:R}, expected {expected:R}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(SizesAndThreads))]
    public void SelectsAndGradientSharesOnTiesAndZeros(int n, int threads)
    {
        // The random data of the test above has no ties and no zeros; here a third of the pairs tie and a
        // third of the conditions are zero, on both the vector body and the scalar tail.
        using var _ = Threads(threads);
        using var scope = TensorScope.Begin();
        foreach (var dtype in FloatTypes)
        {
            var rng = Rng.ForKey(12, (ulong)n, (ulong)dtype);
            var av = RandomValues(ref rng, n);
            var bv = RandomValues(ref rng, n);
            for (int i = 0; i < n; i += 3) { bv[i] = av[i]; av[(i + 1) % n] = 0; }
            var (a, b) = (Make(av, new Shape(n), dtype), Make(bv, new Shape(n), dtype));
            var (ar, br) = (Read(a), Read(b));
            foreach (var op in new[] { BinaryOp.MaxGradientShare, BinaryOp.SelectNonZero, BinaryOp.SelectZero, BinaryOp.Maximum, BinaryOp.Minimum })
            {
                var y = Garbage(new Shape(n), dtype);
                Host.Binary(op, a, b, y);
                var got = Read(y);
                for (int i = 0; i < n; i++)
                {
                    double expected = ReferenceBinary(op, ar[i], br[i], 0);
                    // Bit for bit, sign of zero included: the selects' -0 is what makes where exact.
                    Assert.True(BitConverter.DoubleToInt64Bits(expected) == BitConverter.DoubleToInt64Bits(got[i]),
                        $"{op} {dtype.Name()} n={n} element {i} ({ar[i]:R}, {br[i]:R}): {got[i]:R}, expected {expected:R}");
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(SizesAndThreads))]
    public void AxpyAccumulatesIntoY(int n, int threads)
    {
        using var _ = Threads(threads);
        using var scope = TensorScope.Begin();
        foreach (var dtype in FloatTypes)
        {
            var rng = Rng.ForKey(13, (ulong)n, (ulong)dtype);
            var (x, xv) = Random(ref rng, new Shape(n), dtype);
            var (y, yv) = Random(ref rng, new Shape(n), dtype);
            Host.Axpy(-0.75, x, y);
            var expected = new double[n];
            for (int i = 0; i < n; i++) expected[i] = yv[i] - 0.75 * xv[i];
            AssertClose(expected, Read(y), Tolerance(dtype), $"axpy {dtype.Name()} n={n}");
        }
    }

    public static TheoryData<int, int, int, int> ChannelShapes()
    {
        var data = new TheoryData<int, int, int, int>();
        foreach (var (o, c, i) in new[] { (1, 1, 1), (2, 3, 5), (3, 17, 1), (7, 5, 9), (2, 17, 49), (1, 3, 7), (65, 129, 1), (4, 33, 257) })
            foreach (int threads in new[] { 1, 2 })
                data.Add(o, c, i, threads);
        return data;
    }

    [Theory]
    [MemberData(nameof(ChannelShapes))]
    public void AddChannelVectorAddsAlphaTimesTheChannelValue(int outer, int channels, int inner, int threads)
    {
        using var _ = Threads(threads);
        using var scope = TensorScope.Begin();
        foreach (var dtype in FloatTypes)
        {
            var rng = Rng.ForKey(17, (ulong)(outer * 1000 + channels), (ulong)inner, (ulong)dtype);
            var shape = new Shape(outer, channels, inner);
            var (x, xv) = Random(ref rng, shape, dtype);
            var (v, vv) = Random(ref rng, new Shape(channels), dtype);
            var y = Garbage(shape, dtype);
            Host.AddChannelVector(x, v, outer, channels, inner, -1.5, y);
            var expected = new double[xv.Length];
            for (int o = 0; o < outer; o++)
                for (int c = 0; c < channels; c++)
                    for (int i = 0; i < inner; i++)
                    {
                        int at = (o * channels + c) * inner + i;
                        expected[at] = xv[at] - 1.5 * vv[c];
                    }
            AssertClose(expected, Read(y), Tolerance(dtype), $"AddChannelVector {dtype.Name()} {shape}");
        }
    }

    [Theory]
    [MemberData(nameof(ChannelShapes))]
    public void BroadcastCopiesAlongTheMiddleAxis(int outer, int mid, int inner, int threads)
    {
        using var _ = Threads(threads);
        using var scope = TensorScope.Begin();
        foreach (var dtype in FloatTypes)
        {
            var rng = Rng.ForKey(19, (ulong)(outer * 1000 + mid), (ulong)inner, (ulong)dtype);
            var (x, xv) = Random(ref rng, new Shape(outer, inner), dtype);
            var y = Garbage(new Shape(outer, mid, inner), dtype);
            Host.Broadcast(x, outer, mid, inner, 0.5, y);
            var expected = new double[outer * mid * inner];
            for (int o = 0; o < outer; o++)
                for (int m = 0; m < mid; m++)
                    for (int i = 0; i < inner; i++)
                        expected[(o * mid + m) * inner + i] = 0.5 * xv[o * inner + i];
            AssertClose(expected, Read(y), Tolerance(dtype), $"Broadcast {dtype.Name()} [{outer},{mid},{inner}]");
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(13)]
    public void FillDiagonalSetsTheDiagonalAndNothingElse(int d)
    {
        foreach (var dtype in FloatTypes)
        {
            using var scope = TensorScope.Begin();
            var rng = new Rng((ulong)(30 + d));
            var (m, values) = Random(ref rng, new Shape(d, d), dtype);
            Host.FillDiagonal(m, -0.75);
            var expected = (double[])values.Clone();
            for (int i = 0; i < d; i++) expected[i * (d + 1)] = -0.75;
            Assert.Equal(expected, Read(m));
        }
        Assert.Throws<ShapeMismatchException>(() => Host.FillDiagonal(Tensor.Zeros(new Shape(2, 3)), 0));
    }

    [Fact]
    public void MismatchedElementCountsThrow()
    {
        using var scope = TensorScope.Begin();
        var a = Tensor.Full(new Shape(5), 1, DType.Float32, Host);
        var b = Tensor.Full(new Shape(6), 1, DType.Float32, Host);
        var d = Tensor.Full(new Shape(5), 1, DType.Float64, Host);
        Assert.Throws<ShapeMismatchException>(() => Host.Binary(BinaryOp.Add, a, b, a));
        Assert.Throws<ShapeMismatchException>(() => Host.Binary(BinaryOp.Add, a, d, a));
        Assert.Throws<ShapeMismatchException>(() => Host.Unary(UnaryOp.Exp, a, b));
        Assert.Throws<ShapeMismatchException>(() => Host.Axpy(1, a, b));
        Assert.Throws<ShapeMismatchException>(() => Host.AddChannelVector(a, a, 1, 2, 3, 1, a));
        Assert.Throws<ShapeMismatchException>(() => Host.Broadcast(a, 1, 2, 5, 1, a));
    }

    [Theory]
    [InlineData(33, 1)]
    [InlineData(70_001, 2)]
    public void ElementwiseKernelsAllocateNothing(int n, int threads)
    {
        using var _ = Threads(threads);
        using var scope = TensorScope.Begin();
        var rng = new Rng(83);
        var (a, _) = Random(ref rng, new Shape(n), DType.Float32);
        var (b, _) = Random(ref rng, new Shape(n), DType.Float32);
        var y = Garbage(new Shape(n), DType.Float32);
        var v = Garbage(new Shape(n / 33), DType.Float32);
        var (rows, _) = Random(ref rng, new Shape(33, n / 33), DType.Float32);
        var rowsOut = Garbage(rows.Shape, DType.Float32);
        Assert.Equal(0, AllocationCheck.BytesAllocated(() =>
        {
            Host.Unary(UnaryOp.Exp, a, y);
            Host.Unary(UnaryOp.Hinge, a, y, 1);
            Host.Binary(BinaryOp.Mul, a, b, y);
            Host.Binary(BinaryOp.HingeBackward, a, b, y, 1);
            Host.Axpy(0.5, a, y);
            Host.AddChannelVector(rows, v, 33, n / 33, 1, 1, rowsOut);
            Host.Broadcast(v, 1, 33, n / 33, 1, rowsOut);
        }));
    }
}
