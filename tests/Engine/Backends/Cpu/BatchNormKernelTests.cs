using Vicreg.Engine;
using static Vicreg.Tests.Engine.Backends.Cpu.KernelTestSupport;

namespace Vicreg.Tests.Engine.Backends.Cpu;

[Collection(ThreadCountCollection.Name)]
public class BatchNormKernelTests
{
    public static TheoryData<int, int, int, bool, int> Cases()
    {
        var data = new TheoryData<int, int, int, bool, int>();
        // inner 0 marks an (N, C) input; the last shapes pass the parallel threshold.
        foreach (var (n, c, inner) in new[] { (2, 1, 0), (3, 3, 0), (7, 5, 1), (2, 17, 5), (3, 5, 9), (1, 3, 49), (2, 3, 49), (64, 700, 0), (7, 17, 300) })
            foreach (bool affine in new[] { true, false })
                foreach (int threads in new[] { 1, 2 })
                    data.Add(n, c, inner, affine, threads);
        return data;
    }

    private static Shape InputShape(int n, int c, int inner) => inner == 0 ? new Shape(n, c) : new Shape(n, c, inner, 1);

    /// <summary>Per-channel mean and biased variance in double, from the definition.</summary>
    private static (double[] Mean, double[] Var) Statistics(double[] x, int n, int c, int inner)
    {
        var mean = new double[c];
        var variance = new double[c];
        int m = n * inner;
        for (int ch = 0; ch < c; ch++)
        {
            double s = 0;
            for (int i = 0; i < n; i++) for (int k = 0; k < inner; k++) s += x[(i * c + ch) * inner + k];
            mean[ch] = s / m;
            double q = 0;
            for (int i = 0; i < n; i++) for (int k = 0; k < inner; k++) { double d = x[(i * c + ch) * inner + k] - mean[ch]; q += d * d; }
            variance[ch] = q / m;
        }
        return (mean, variance);
    }

    /// <summary>A per-channel parameter: random when present, else null, read as <paramref name="absent"/>
    /// everywhere (1 for gamma, 0 for beta).</summary>
    private static (Tensor? Tensor, double[] Values) OptionalChannelVector(ref Rng rng, bool present, int c, DType dtype, double absent)
    {
        if (present) return Random(ref rng, new Shape(c), dtype);
        var values = new double[c];
        Array.Fill(values, absent);
        return (null, values);
    }

    /// <summary>Running statistics to start from: a random mean and a positive variance.</summary>
    private static (Tensor Mean, double[] MeanValues, Tensor Var, double[] VarValues) RunningStatistics(ref Rng rng, int c, DType dtype)
    {
        var (mean, meanValues) = Random(ref rng, new Shape(c), dtype);
        var variance = Make(PositiveValues(ref rng, c), new Shape(c), dtype);
        return (mean, meanValues, variance, Read(variance));
    }

    /// <summary>y = g (x - mean) / sqrt(var + eps) + b per channel, from the definition.</summary>
    private static double[] Normalized(double[] xv, int n, int c, int inner, double[] mean, double[] variance, double[] gv, double[] bv, double eps)
    {
        var y = new double[xv.Length];
        for (int i = 0; i < n; i++)
            for (int ch = 0; ch < c; ch++)
                for (int k = 0; k < inner; k++)
                {
                    int at = (i * c + ch) * inner + k;
                    y[at] = gv[ch] * (xv[at] - mean[ch]) / Math.Sqrt(variance[ch] + eps) + bv[ch];
                }
        return y;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void TrainingNormalizesAndUpdatesRunningStatisticsAsPyTorch(int n, int c, int inner, bool affine, int threads)
    {
        using var _ = Threads(threads);
        using var scope = TensorScope.Begin();
        int innerCount = Math.Max(inner, 1);
        const double momentum = 0.1, eps = 1e-5;
        foreach (var dtype in FloatTypes)
        {
            var rng = Rng.ForKey(41, (ulong)(n * 1000 + c), (ulong)inner, (ulong)dtype);
            var shape = InputShape(n, c, inner);
            // An offset mean per channel, so centring matters.
            var x = Make(Array.ConvertAll(RandomValues(ref rng, shape.Numel), v => 3 + 2 * v), shape, dtype);
            var xv = Read(x);
            var (gamma, gv) = OptionalChannelVector(ref rng, affine, c, dtype, 1.0);
            var (beta, bv) = OptionalChannelVector(ref rng, affine, c, dtype, 0.0);
            var (runningMean, rm0, runningVar, rv0) = RunningStatistics(ref rng, c, dtype);
            var y = Garbage(shape, dtype);
            var saveMean = Garbage(new Shape(c), dtype);
            var saveInvStd = Garbage(new Shape(c), dtype);

            Host.BatchNormTraining(x, gamma, beta, runningMean, runningVar, momentum, eps, y, saveMean, saveInvStd);

            var (mean, variance) = Statistics(xv, n, c, innerCount);
            int m = n * innerCount;
            var expectedY = Normalized(xv, n, c, innerCount, mean, variance, gv, bv, eps);
            var expectedInvStd = new double[c];
            var expectedRm = new double[c];
            var expectedRv = new double[c];
            for (int ch = 0; ch < c; ch++)
            {
                expectedInvStd[ch] = 1 / Math.Sqrt(variance[ch] + eps);
                // torch.nn.BatchNorm: running = (1 - momentum) running + momentum batch, var unbiased (m / (m - 1)).
                expectedRm[ch] = (1 - momentum) * rm0[ch] + momentum * mean[ch];
                expectedRv[ch] = (1 - momentum) * rv0[ch] + momentum * variance[ch] * m / (m - 1);
            }
            string what = $"{dtype.Name()} {shape} affine={affine}";
            double tol = Tolerance(dtype) * 4;
            AssertClose(expectedY, Read(y), tol, "y " + what);
            AssertClose(mean, Read(saveMean), tol, "saveMean " + what);
            AssertClose(expectedInvStd, Read(saveInvStd), tol, "saveInvStd " + what);
            AssertClose(expectedRm, Read(runningMean), tol, "runningMean " + what);
            AssertClose(expectedRv, Read(runningVar), tol, "runningVar " + what);
        }
    }

    [Theory]
    [InlineData(1e6, 5, 3, 49)]
    [InlineData(1e3, 2, 1, 169)]
    [InlineData(1e6, 64, 7, 0)]
    public void StatisticsKeepTheirDigitsWhenTheMeanDwarfsTheSpread(double offset, int n, int c, int inner)
    {
        // Values offset / spread ~ 1e6 apart (cancellation of a plain sum of squares would leave no digit of the
        // variance in float64), and a first sample far out (+50) against the others: the statistics' shift must not
        // rely on it being typical.
        using var scope = TensorScope.Begin();
        int innerCount = Math.Max(inner, 1);
        foreach (var dtype in FloatTypes)
        {
            if (dtype == DType.Float32 && offset > 1e4) continue; // float32 holds no spread of 1 beside 1e6
            var rng = Rng.ForKey(67, (ulong)n, (ulong)inner, (ulong)dtype);
            var shape = InputShape(n, c, inner);
            var values = RandomValues(ref rng, shape.Numel);
            for (int i = 0; i < values.Length; i++) values[i] += offset + (i < c * innerCount ? 50 : 0);
            var x = Make(values, shape, dtype);
            var saveMean = Garbage(new Shape(c), dtype);
            var saveInvStd = Garbage(new Shape(c), dtype);
            Host.BatchNormTraining(x, null, null, null, null, 0.1, 1e-5, Garbage(shape, dtype), saveMean, saveInvStd);
            var (mean, variance) = Statistics(Read(x), n, c, innerCount);
            var expectedInvStd = Array.ConvertAll(variance, v => 1 / Math.Sqrt(v + 1e-5));
            double tol = dtype == DType.Float32 ? 2e-6 : 1e-11;
            AssertClose(mean, Read(saveMean), tol, $"mean {dtype.Name()} {shape}");
            AssertClose(expectedInvStd, Read(saveInvStd), tol, $"invstd {dtype.Name()} {shape}");
        }
    }

    [Fact]
    public void TrainingWithoutRunningStatisticsLeavesThemAlone()
    {
        using var scope = TensorScope.Begin();
        var rng = new Rng(43);
        var (x, _) = Random(ref rng, new Shape(4, 3, 5), DType.Float32);
        var y = Garbage(x.Shape, DType.Float32);
        var saveMean = Garbage(new Shape(3), DType.Float32);
        var saveInvStd = Garbage(new Shape(3), DType.Float32);
        Host.BatchNormTraining(x, null, null, null, null, 0.1, 1e-5, y, saveMean, saveInvStd);
        // Normalized: each channel has mean 0 and (biased) variance 1 - eps / (var + eps).
        var yv = Read(y);
        for (int ch = 0; ch < 3; ch++)
        {
            double s = 0, q = 0;
            for (int i = 0; i < 4; i++) for (int k = 0; k < 5; k++) { double v = yv[(i * 3 + ch) * 5 + k]; s += v; q += v * v; }
            Assert.InRange(s / 20, -1e-5, 1e-5);
            Assert.InRange(q / 20, 0.999, 1.00001);
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void InferenceUsesTheRunningStatistics(int n, int c, int inner, bool affine, int threads)
    {
        using var _ = Threads(threads);
        using var scope = TensorScope.Begin();
        int innerCount = Math.Max(inner, 1);
        const double eps = 1e-3;
        foreach (var dtype in FloatTypes)
        {
            var rng = Rng.ForKey(47, (ulong)(n * 1000 + c), (ulong)inner, (ulong)dtype);
            var shape = InputShape(n, c, inner);
            var (x, xv) = Random(ref rng, shape, dtype);
            var (gamma, gv) = OptionalChannelVector(ref rng, affine, c, dtype, 1.0);
            var (beta, bv) = OptionalChannelVector(ref rng, affine, c, dtype, 0.0);
            var (runningMean, rm, runningVar, rv) = RunningStatistics(ref rng, c, dtype);
            var y = Garbage(shape, dtype);
            Host.BatchNormInference(x, gamma, beta, runningMean, runningVar, eps, y);
            var expected = Normalized(xv, n, c, innerCount, rm, rv, gv, bv, eps);
            AssertClose(expected, Read(y), Tolerance(dtype) * 4, $"inference {dtype.Name()} {shape}");
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void BackwardMatchesTheStandardFormula(int n, int c, int inner, bool affine, int threads)
    {
        using var _ = Threads(threads);
        using var scope = TensorScope.Begin();
        int innerCount = Math.Max(inner, 1);
        const double eps = 1e-5;
        foreach (var dtype in FloatTypes)
        {
            var rng = Rng.ForKey(53, (ulong)(n * 1000 + c), (ulong)inner, (ulong)dtype);
            var shape = InputShape(n, c, inner);
            var x = Make(Array.ConvertAll(RandomValues(ref rng, shape.Numel), v => 1 + v), shape, dtype);
            var xv = Read(x);
            var (dy, dyv) = Random(ref rng, shape, dtype);
            var (gamma, gv) = OptionalChannelVector(ref rng, affine, c, dtype, 1.0);
            var y = Garbage(shape, dtype);
            var saveMean = Garbage(new Shape(c), dtype);
            var saveInvStd = Garbage(new Shape(c), dtype);
            Host.BatchNormTraining(x, gamma, null, null, null, 0.1, eps, y, saveMean, saveInvStd);
            var dx = Garbage(shape, dtype);
            var dgamma = affine ? Garbage(new Shape(c), dtype) : null;
            var dbeta = affine ? Garbage(new Shape(c), dtype) : null;
            Host.BatchNormBackward(x, dy, gamma, saveMean, saveInvStd, dx, dgamma, dbeta);

            var (mean, variance) = Statistics(xv, n, c, innerCount);
            int m = n * innerCount;
            var expectedDx = new double[xv.Length];
            var expectedDgamma = new double[c];
            var expectedDbeta = new double[c];
            for (int ch = 0; ch < c; ch++)
            {
                double invStd = 1 / Math.Sqrt(variance[ch] + eps);
                double sumDyHat = 0, sumDyHatXhat = 0;
                for (int i = 0; i < n; i++)
                    for (int k = 0; k < innerCount; k++)
                    {
                        int at = (i * c + ch) * innerCount + k;
                        double xhat = (xv[at] - mean[ch]) * invStd;
                        sumDyHat += dyv[at] * gv[ch];
                        sumDyHatXhat += dyv[at] * gv[ch] * xhat;
                        expectedDbeta[ch] += dyv[at];
                        expectedDgamma[ch] += dyv[at] * xhat;
                    }
                for (int i = 0; i < n; i++)
                    for (int k = 0; k < innerCount; k++)
                    {
                        int at = (i * c + ch) * innerCount + k;
                        double xhat = (xv[at] - mean[ch]) * invStd;
                        expectedDx[at] = invStd / m * (m * dyv[at] * gv[ch] - sumDyHat - xhat * sumDyHatXhat);
                    }
            }
            string what = $"{dtype.Name()} {shape} affine={affine}";
            // dx is a difference of terms of size |dy|: compare against the scale of the terms, not of dx.
            double tol = dtype == DType.Float32 ? 2e-4 : 1e-10;
            AssertClose(expectedDx, Read(dx), tol, "dx " + what);
            if (affine)
            {
                AssertClose(expectedDgamma, Read(dgamma!), tol, "dgamma " + what);
                AssertClose(expectedDbeta, Read(dbeta!), tol, "dbeta " + what);
            }
        }
    }

    [Fact]
    public void BackwardAgreesWithFiniteDifferencesInDouble()
    {
        // An independent check of the formula: loss = sum(y * w), so dy = w.
        using var scope = TensorScope.Begin();
        const int n = 3, c = 2, inner = 5;
        const double eps = 1e-5, h = 1e-6;
        var rng = new Rng(59);
        var shape = new Shape(n, c, inner);
        var (x, xv) = Random(ref rng, shape, DType.Float64);
        var (w, wv) = Random(ref rng, shape, DType.Float64);
        var (gamma, gv) = Random(ref rng, new Shape(c), DType.Float64);
        var (beta, _) = Random(ref rng, new Shape(c), DType.Float64);
        var y = Garbage(shape, DType.Float64);
        var saveMean = Garbage(new Shape(c), DType.Float64);
        var saveInvStd = Garbage(new Shape(c), DType.Float64);

        double Loss(double[] xs, double[] gs)
        {
            using var inner2 = TensorScope.Begin();
            var xt = Make(xs, shape, DType.Float64);
            var gt = Make(gs, new Shape(c), DType.Float64);
            Host.BatchNormTraining(xt, gt, beta, null, null, 0.1, eps, y, saveMean, saveInvStd);
            var yv = Read(y);
            double s = 0;
            for (int i = 0; i < yv.Length; i++) s += yv[i] * wv[i];
            return s;
        }

        Host.BatchNormTraining(x, gamma, beta, null, null, 0.1, eps, y, saveMean, saveInvStd);
        var dx = Garbage(shape, DType.Float64);
        var dgamma = Garbage(new Shape(c), DType.Float64);
        var dbeta = Garbage(new Shape(c), DType.Float64);
        Host.BatchNormBackward(x, w, gamma, saveMean, saveInvStd, dx, dgamma, dbeta);
        var dxv = Read(dx);
        var dgv = Read(dgamma);
        for (int i = 0; i < xv.Length; i++)
        {
            var plus = (double[])xv.Clone(); plus[i] += h;
            var minus = (double[])xv.Clone(); minus[i] -= h;
            double numeric = (Loss(plus, gv) - Loss(minus, gv)) / (2 * h);
            Assert.True(Math.Abs(numeric - dxv[i]) < 1e-6, $"dx[{i}] = {dxv[i]}, finite difference {numeric}");
        }
        for (int ch = 0; ch < c; ch++)
        {
            var plus = (double[])gv.Clone(); plus[ch] += h;
            var minus = (double[])gv.Clone(); minus[ch] -= h;
            double numeric = (Loss(xv, plus) - Loss(xv, minus)) / (2 * h);
            Assert.True(Math.Abs(numeric - dgv[ch]) < 1e-6, $"dgamma[{ch}] = {dgv[ch]}, finite difference {numeric}");
        }
    }

    [Fact]
    public void WrongChannelCountsThrow()
    {
        using var scope = TensorScope.Begin();
        var x = Tensor.Full(new Shape(2, 3, 4, 4), 1, DType.Float32, Host);
        var y = Tensor.Full(new Shape(2, 3, 4, 4), 1, DType.Float32, Host);
        var c3 = Tensor.Full(new Shape(3), 1, DType.Float32, Host);
        var c4 = Tensor.Full(new Shape(4), 1, DType.Float32, Host);
        Assert.Throws<ShapeMismatchException>(() => Host.BatchNormTraining(x, c4, c3, null, null, 0.1, 1e-5, y, c3, c3));
        Assert.Throws<ShapeMismatchException>(() => Host.BatchNormInference(x, null, null, c3, c4, 1e-5, y));
        Assert.Throws<ShapeMismatchException>(() => Host.BatchNormBackward(x, y, null, c3, c3, y, c4, null));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void BatchNormAllocatesNothing(int threads)
    {
        using var _ = Threads(threads);
        using var scope = TensorScope.Begin();
        var rng = new Rng(97);
        foreach (var shape in new[] { new Shape(8, 17, 7, 41), new Shape(64, 700) })
        {
            int c = shape[1];
            var (x, _) = Random(ref rng, shape, DType.Float32);
            var (dy, _) = Random(ref rng, shape, DType.Float32);
            var (gamma, _) = Random(ref rng, new Shape(c), DType.Float32);
            var (beta, _) = Random(ref rng, new Shape(c), DType.Float32);
            var rm = Garbage(new Shape(c), DType.Float32);
            var rv = Tensor.Full(new Shape(c), 1, DType.Float32, Host);
            var y = Garbage(shape, DType.Float32);
            var dx = Garbage(shape, DType.Float32);
            var m = Garbage(new Shape(c), DType.Float32);
            var s = Garbage(new Shape(c), DType.Float32);
            var dg = Garbage(new Shape(c), DType.Float32);
            var db = Garbage(new Shape(c), DType.Float32);
            Assert.Equal(0, AllocationCheck.BytesAllocated(() =>
            {
                Host.BatchNormTraining(x, gamma, beta, rm, rv, 0.1, 1e-5, y, m, s);
                Host.BatchNormInference(x, gamma, beta, rm, rv, 1e-5, y);
                Host.BatchNormBackward(x, dy, gamma, m, s, dx, dg, db);
            }));
        }
    }

    [Theory]
    [InlineData(2, 17, 0)]
    [InlineData(64, 700, 0)]
    [InlineData(3, 5, 9)]
    public void InPlaceGivesTheSameAsOutOfPlace(int n, int c, int inner)
    {
        // y over x in the forward and dx over dy in the backward, as memory-saving ops may call them.
        using var scope = TensorScope.Begin();
        var shape = InputShape(n, c, inner);
        foreach (var dtype in FloatTypes)
        {
            var rng = Rng.ForKey(109, (ulong)(n * 1000 + c), (ulong)inner, (ulong)dtype);
            var (x, xv) = Random(ref rng, shape, dtype);
            var (dy, dyv) = Random(ref rng, shape, dtype);
            var (gamma, _) = Random(ref rng, new Shape(c), dtype);
            var (beta, _) = Random(ref rng, new Shape(c), dtype);
            var y = Garbage(shape, dtype);
            var dx = Garbage(shape, dtype);
            var m = Garbage(new Shape(c), dtype);
            var s = Garbage(new Shape(c), dtype);
            Host.BatchNormTraining(x, gamma, beta, null, null, 0.1, 1e-5, y, m, s);
            Host.BatchNormBackward(x, dy, gamma, m, s, dx, null, null);
            var expectedY = Read(y);
            var expectedDx = Read(dx);

            Host.BatchNormBackward(x, dy, gamma, m, s, dy, null, null);
            Assert.Equal(expectedDx, Read(dy));
            Host.BatchNormTraining(x, gamma, beta, null, null, 0.1, 1e-5, x, m, s);
            Assert.Equal(expectedY, Read(x));
        }
    }

    [Theory]
    [InlineData(64, 700, 0)]
    [InlineData(7, 17, 300)]
    public void BatchNormGivesTheSameBitsOnOneThreadOrTwo(int n, int c, int inner)
    {
        using var scope = TensorScope.Begin();
        var shape = InputShape(n, c, inner);
        var rng = new Rng(137);
        var (x, _) = Random(ref rng, shape, DType.Float32);
        var (dy, _) = Random(ref rng, shape, DType.Float32);
        var (gamma, _) = Random(ref rng, new Shape(c), DType.Float32);
        float[] Run(int threads)
        {
            using var _ = Threads(threads);
            using var innerScope = TensorScope.Begin();
            var y = Garbage(shape, DType.Float32);
            var dx = Garbage(shape, DType.Float32);
            var m = Garbage(new Shape(c), DType.Float32);
            var s = Garbage(new Shape(c), DType.Float32);
            var dg = Garbage(new Shape(c), DType.Float32);
            var db = Garbage(new Shape(c), DType.Float32);
            Host.BatchNormTraining(x, gamma, null, null, null, 0.1, 1e-5, y, m, s);
            Host.BatchNormBackward(x, dy, gamma, m, s, dx, dg, db);
            return [.. y.ToArray<float>(), .. dx.ToArray<float>(), .. dg.ToArray<float>(), .. db.ToArray<float>()];
        }
        Assert.Equal(Run(1), Run(2));
    }
}
