using Vicreg.Engine;
using static Vicreg.Tests.Engine.Backends.Cpu.KernelTestSupport;

namespace Vicreg.Tests.Engine.Backends.Cpu;

[Collection(ThreadCountCollection.Name)]
public class OptimizerKernelTests
{
    public static TheoryData<int, int> SizesAndThreads()
    {
        var data = new TheoryData<int, int>();
        foreach (int n in new[] { 1, 7, 31, 33, 50_001 })
            foreach (int threads in new[] { 1, 2 })
                data.Add(n, threads);
        return data;
    }

    [Theory]
    [MemberData(nameof(SizesAndThreads))]
    public void SgdAddsDecayThenMomentumThenSteps(int n, int threads)
    {
        using var _ = Threads(threads);
        using var scope = TensorScope.Begin();
        const double lr = 0.05, wd = 1e-2, momentum = 0.9;
        foreach (var dtype in FloatTypes)
        {
            var rng = Rng.ForKey(71, (ulong)n, (ulong)dtype);
            var (w, wv) = Random(ref rng, new Shape(n), dtype);
            var (g, gv) = Random(ref rng, new Shape(n), dtype);
            var (m, mv) = Random(ref rng, new Shape(n), dtype);
            Host.SgdUpdate(w, g, m, lr, wd, momentum);
            var expectedW = new double[n];
            var expectedM = new double[n];
            for (int i = 0; i < n; i++)
            {
                double update = gv[i] + wd * wv[i];
                expectedM[i] = momentum * mv[i] + update;
                expectedW[i] = wv[i] - lr * expectedM[i];
            }
            AssertClose(expectedM, Read(m), Tolerance(dtype), $"sgd momentum {dtype.Name()} n={n}");
            AssertClose(expectedW, Read(w), Tolerance(dtype), $"sgd weight {dtype.Name()} n={n}");
            // The gradient is an input only.
            Assert.Equal(gv, Read(g));
        }
    }

    /// <summary>The official VICReg LARS step for one parameter, in double.</summary>
    private static (double[] W, double[] M) ReferenceLars(double[] w, double[] g, double[] m, double lr, double wd, double momentum, double eta, bool adapt)
    {
        int n = w.Length;
        var update = new double[n];
        for (int i = 0; i < n; i++) update[i] = adapt ? g[i] + wd * w[i] : g[i];
        if (adapt)
        {
            double wn = 0, un = 0;
            for (int i = 0; i < n; i++) { wn += w[i] * w[i]; un += update[i] * update[i]; }
            wn = Math.Sqrt(wn);
            un = Math.Sqrt(un);
            double q = wn > 0 && un > 0 ? eta * wn / un : 1.0;
            for (int i = 0; i < n; i++) update[i] *= q;
        }
        var newM = new double[n];
        var newW = new double[n];
        for (int i = 0; i < n; i++)
        {
            newM[i] = momentum * m[i] + update[i];
            newW[i] = w[i] - lr * newM[i];
        }
        return (newW, newM);
    }

    [Theory]
    [MemberData(nameof(SizesAndThreads))]
    public void LarsScalesByTheTrustRatioWhenAdapting(int n, int threads)
    {
        using var _ = Threads(threads);
        using var scope = TensorScope.Begin();
        const double lr = 0.3, wd = 1e-4, momentum = 0.9, eta = 0.02;
        foreach (var dtype in FloatTypes)
            foreach (bool adapt in new[] { true, false })
            {
                var rng = Rng.ForKey(73, (ulong)n, (ulong)dtype, adapt ? 1UL : 0UL);
                var (w, wv) = Random(ref rng, new Shape(n), dtype);
                var (g, gv) = Random(ref rng, new Shape(n), dtype, 0.01);
                var (m, mv) = Random(ref rng, new Shape(n), dtype, 0.01);
                Host.LarsUpdate(w, g, m, lr, wd, momentum, eta, adapt);
                var (expectedW, expectedM) = ReferenceLars(wv, gv, mv, lr, wd, momentum, eta, adapt);
                string what = $"{dtype.Name()} n={n} adapt={adapt}";
                AssertClose(expectedM, Read(m), Tolerance(dtype), "lars momentum " + what);
                AssertClose(expectedW, Read(w), Tolerance(dtype), "lars weight " + what);
            }
    }

    [Theory]
    [InlineData(true, false)]   // ||w|| = 0: trust 1
    [InlineData(false, true)]   // ||g + wd w|| = 0 (g = 0, w = 0 too would be the first case): trust 1
    public void LarsTrustIsOneWhenANormIsZero(bool zeroWeight, bool zeroUpdate)
    {
        using var scope = TensorScope.Begin();
        const int n = 13;
        const double lr = 0.1, wd = 0.5, momentum = 0.9, eta = 0.001;
        foreach (var dtype in FloatTypes)
        {
            var rng = Rng.ForKey(79, zeroWeight ? 1UL : 2UL, (ulong)dtype);
            var wv = zeroWeight ? new double[n] : RandomValues(ref rng, n);
            // A gradient that cancels the decay exactly: g = -wd w (exact in both types, wd a power of two).
            var gv = zeroUpdate ? Array.ConvertAll(wv, v => -wd * v) : RandomValues(ref rng, n);
            var mv = RandomValues(ref rng, n, 0.1);
            var w = Make(wv, new Shape(n), dtype);
            var g = Make(gv, new Shape(n), dtype);
            var m = Make(mv, new Shape(n), dtype);
            wv = Read(w); gv = Read(g); mv = Read(m);
            Host.LarsUpdate(w, g, m, lr, wd, momentum, eta, adapt: true);
            var (expectedW, expectedM) = ReferenceLars(wv, gv, mv, lr, wd, momentum, eta, adapt: true);
            // The reference takes the untouched branch too: check it really is the trust-1 step.
            for (int i = 0; i < n; i++) Assert.Equal(momentum * mv[i] + gv[i] + wd * wv[i], expectedM[i], 12);
            AssertClose(expectedM, Read(m), Tolerance(dtype), $"momentum {dtype.Name()}");
            AssertClose(expectedW, Read(w), Tolerance(dtype), $"weight {dtype.Name()}");
        }
    }

    [Fact]
    public void MismatchedBuffersThrow()
    {
        using var scope = TensorScope.Begin();
        var a = Tensor.Full(new Shape(5), 1, DType.Float32, Host);
        var b = Tensor.Full(new Shape(6), 1, DType.Float32, Host);
        var d = Tensor.Full(new Shape(5), 1, DType.Float64, Host);
        Assert.Throws<ShapeMismatchException>(() => Host.SgdUpdate(a, b, a, 0.1, 0, 0.9));
        Assert.Throws<ShapeMismatchException>(() => Host.LarsUpdate(a, a, d, 0.1, 0, 0.9, 0.001, true));
    }

    [Theory]
    [InlineData(33, 1)]
    [InlineData(50_001, 2)]
    public void UpdatesAllocateNothing(int n, int threads)
    {
        using var _ = Threads(threads);
        using var scope = TensorScope.Begin();
        var rng = new Rng(107);
        var (w, _) = Random(ref rng, new Shape(n), DType.Float32);
        var (g, _) = Random(ref rng, new Shape(n), DType.Float32, 1e-3);
        var m = Tensor.Zeros(new Shape(n), DType.Float32, Host);
        Assert.Equal(0, AllocationCheck.BytesAllocated(() =>
        {
            Host.SgdUpdate(w, g, m, 1e-3, 1e-4, 0.9);
            Host.LarsUpdate(w, g, m, 1e-3, 1e-4, 0.9, 0.001, true);
            Host.LarsUpdate(w, g, m, 1e-3, 1e-4, 0.9, 0.001, false);
        }));
    }

    [Fact]
    public void LarsGivesTheSameBitsOnOneThreadOrTwo()
    {
        using var scope = TensorScope.Begin();
        const int n = 100_003;
        var rng = new Rng(131);
        var wv = RandomValues(ref rng, n);
        var gv = RandomValues(ref rng, n, 0.01);
        var mv = RandomValues(ref rng, n, 0.01); // a running momentum, so its decay term takes part too
        float[] Run(int threads)
        {
            using var _ = Threads(threads);
            using var inner = TensorScope.Begin();
            var w = Make(wv, new Shape(n), DType.Float32);
            var g = Make(gv, new Shape(n), DType.Float32);
            var m = Make(mv, new Shape(n), DType.Float32);
            Host.LarsUpdate(w, g, m, 0.3, 1e-4, 0.9, 0.02, true);
            return w.ToArray<float>();
        }
        Assert.Equal(Run(1), Run(2));
    }
}
