using Vicreg.Engine;
using Vicreg.Engine.Autograd;
using Vicreg.Engine.Backends.Cpu;
using Vicreg.Engine.IO;
using Vicreg.Losses;
using Vicreg.Tests.Engine;
using Vicreg.Tests.Engine.IO;

namespace Vicreg.Tests.App.Losses;

public class VicregLossTests
{
    /// <summary>Embeddings whose columns have different spreads (scales 0.2 .. 2.6), so that some column
    /// stds fall below 1 (the hinge is active) and others above (it is not), plus correlated columns so
    /// that the covariance term is not near zero.</summary>
    internal static double[] Embeddings(int n, int d, ulong seed)
    {
        var rng = new Rng(seed);
        var v = new double[n * d];
        for (int i = 0; i < n; i++)
        {
            double shared = rng.NextNormal();
            for (int j = 0; j < d; j++)
            {
                double scale = 0.2 + 2.4 * ((j * 7 + 3) % 11) / 10.0;
                v[i * d + j] = scale * (0.8 * rng.NextNormal() + 0.5 * shared) + 0.3 * j;
            }
        }
        return v;
    }

    private static Tensor T64(double[] v, int n, int d, bool grad = false)
    {
        var t = Tensor.FromArray<double>(v, new Shape(n, d), CpuBackend.Instance);
        t.RequiresGrad = grad;
        return t;
    }

    /// <summary>The loss written as plain loops straight from VICREG.md (no kernels, no shared code).</summary>
    internal static (double Inv, double Var, double Cov) Reference(double[] a, double[] b, int n, int d)
    {
        double inv = 0;
        for (int k = 0; k < a.Length; k++) inv += (a[k] - b[k]) * (a[k] - b[k]);
        inv /= a.Length;
        (double v, double c) Branch(double[] z)
        {
            var zc = new double[n * d];
            for (int j = 0; j < d; j++)
            {
                double m = 0;
                for (int i = 0; i < n; i++) m += z[i * d + j];
                m /= n;
                for (int i = 0; i < n; i++) zc[i * d + j] = z[i * d + j] - m;
            }
            double v = 0, c = 0;
            for (int p = 0; p < d; p++)
                for (int q = 0; q < d; q++)
                {
                    double cpq = 0;
                    for (int i = 0; i < n; i++) cpq += zc[i * d + p] * zc[i * d + q];
                    cpq /= n - 1;
                    if (p == q) v += Math.Max(0, 1 - Math.Sqrt(cpq + 1e-4));
                    else c += cpq * cpq;
                }
            return (v / d / 2, c / d);
        }
        var (va, ca) = Branch(a);
        var (vb, cb) = Branch(b);
        return (inv, va + vb, ca + cb);
    }

    public static TheoryData<int, int> Sizes => new()
    {
        { 2, 3 },   // N = 2, the smallest batch
        { 7, 5 },
        { 4, 9 },   // N < D
        { 5, 1 },   // D = 1: no covariance
        { 13, 6 },
    };

    [Theory]
    [MemberData(nameof(Sizes))]
    public void TermsEqualThePlainFormula(int n, int d)
    {
        var a = Embeddings(n, d, 1);
        var b = Embeddings(n, d, 2);
        using var scope = TensorScope.Begin();
        var output = new VicregLoss(25, 25, 1).Forward(T64(a, n, d), T64(b, n, d));
        var terms = output.ReadTerms();
        var (inv, var, cov) = Reference(a, b, n, d);
        Assert.Equal(inv, terms.Invariance, 12);
        Assert.Equal(var, terms.Variance, 12);
        Assert.Equal(cov, terms.Covariance, 10);
        Assert.True(var > 0.01, "the hinge must be active for some columns");
        if (d > 1) Assert.True(cov > 0.01);
        Assert.Equal(25 * inv + 25 * var + cov, output.Loss.Item(), 9);
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void TotalGradientMatchesFiniteDifferences(int n, int d)
    {
        var za = T64(Embeddings(n, d, 3), n, d, grad: true);
        var zb = T64(Embeddings(n, d, 4), n, d, grad: true);
        var loss = new VicregLoss(25, 25, 1);
        GradCheck.Check(x => loss.Forward(x[0], x[1]).Loss, [za, zb], tolerance: 1e-6);
        // Other weights, so that no term hides behind another.
        var other = new VicregLoss(0.5, 3, 7);
        GradCheck.Check(x => other.Forward(x[0], x[1]).Loss, [za, zb], tolerance: 1e-6);
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void EachTermsGradientMatchesFiniteDifferences(int n, int d)
    {
        var a = Embeddings(n, d, 5);
        var b = Embeddings(n, d, 6);
        using var scope = TensorScope.Begin();
        using var g = VicregLoss.TermGradients(T64(a, n, d), T64(b, n, d));
        var analytic = new[]
        {
            (g.InvarianceA.ToArray<double>(), g.VarianceA.ToArray<double>(), g.CovarianceA.ToArray<double>()),
            (g.InvarianceB.ToArray<double>(), g.VarianceB.ToArray<double>(), g.CovarianceB.ToArray<double>()),
        };
        const double h = 1e-6;
        for (int branch = 0; branch < 2; branch++)
        {
            var z = branch == 0 ? a : b;
            for (int k = 0; k < z.Length; k++)
            {
                double saved = z[k];
                z[k] = saved + h;
                var plus = Reference(a, b, n, d);
                z[k] = saved - h;
                var minus = Reference(a, b, n, d);
                z[k] = saved;
                var (gi, gv, gc) = analytic[branch];
                Assert.Equal((plus.Inv - minus.Inv) / (2 * h), gi[k], 7);
                Assert.Equal((plus.Var - minus.Var) / (2 * h), gv[k], 7);
                Assert.Equal((plus.Cov - minus.Cov) / (2 * h), gc[k], 6);
            }
        }
        var (inv, var, cov) = Reference(a, b, n, d);
        Assert.Equal(inv, g.Terms.Invariance, 12);
        Assert.Equal(var, g.Terms.Variance, 12);
        Assert.Equal(cov, g.Terms.Covariance, 10);
    }

    [Fact]
    public void BackwardOfTheTotalEqualsTheWeightedTermGradients()
    {
        const int n = 6, d = 4;
        var a = Embeddings(n, d, 7);
        var b = Embeddings(n, d, 8);
        using var scope = TensorScope.Begin();
        var za = T64(a, n, d, grad: true);
        var zb = T64(b, n, d, grad: true);
        var loss = new VicregLoss(2, 3, 5);
        Ops.Scale(loss.Forward(za, zb).Loss, -1.5).Backward(); // an upstream gradient other than 1
        using var g = VicregLoss.TermGradients(T64(a, n, d), T64(b, n, d));
        var ga = za.Grad!.ToArray<double>();
        var gi = g.InvarianceA.ToArray<double>();
        var gv = g.VarianceA.ToArray<double>();
        var gc = g.CovarianceA.ToArray<double>();
        for (int k = 0; k < ga.Length; k++)
        {
            double expected = -1.5 * (2 * gi[k] + 3 * gv[k] + 5 * gc[k]);
            Assert.True(Math.Abs(expected - ga[k]) <= 1e-12 * Math.Max(1, Math.Abs(expected)), $"element {k}: {expected} vs {ga[k]}");
        }
        Assert.Equal(0, Tape.Count);
    }

    [Fact]
    public void CovarianceGradientIsFourOverDNMinusOneTimesZcCOffDiagonalAndCentringAddsNothing()
    {
        const int n = 9, d = 5;
        var a = Embeddings(n, d, 9);
        using var scope = TensorScope.Begin();
        using var g = VicregLoss.TermGradients(T64(a, n, d), T64(Embeddings(n, d, 10), n, d));
        var zc = new double[n * d];
        for (int j = 0; j < d; j++)
        {
            double m = 0;
            for (int i = 0; i < n; i++) m += a[i * d + j];
            for (int i = 0; i < n; i++) zc[i * d + j] = a[i * d + j] - m / n;
        }
        var c = new double[d, d];
        for (int p = 0; p < d; p++)
            for (int q = 0; q < d; q++)
            {
                for (int i = 0; i < n; i++) c[p, q] += zc[i * d + p] * zc[i * d + q];
                c[p, q] = p == q ? 0 : c[p, q] / (n - 1);
            }
        var gc = g.CovarianceA.ToArray<double>();
        for (int i = 0; i < n; i++)
            for (int j = 0; j < d; j++)
            {
                double e = 0;
                for (int k = 0; k < d; k++) e += zc[i * d + k] * c[k, j];
                Assert.Equal(4.0 / (d * (n - 1)) * e, gc[i * d + j], 12);
            }
        // The variance and covariance gradients of every column sum to zero (they live on centred columns).
        foreach (var grad in new[] { g.VarianceA, g.CovarianceA, g.VarianceB, g.CovarianceB })
        {
            var v = grad.ToArray<double>();
            for (int j = 0; j < d; j++)
            {
                double s = 0;
                for (int i = 0; i < n; i++) s += v[i * d + j];
                Assert.True(Math.Abs(s) < 1e-12, $"column {j} of a variance/covariance gradient sums to {s}");
            }
        }
    }

    [Theory]
    [InlineData(1.0)]
    [InlineData(1e3)]
    [InlineData(1e6)]
    public void WithOneDimensionTheCovarianceTermAndItsGradientAreExactlyZero(double scale)
    {
        // C is 1 x 1: there is no off-diagonal element, at any scale of z (a difference of two roundings of
        // the variance would grow with it).
        const int n = 7;
        float[] Values(ulong seed) => Embeddings(n, 1, seed).Select(v => (float)(scale * v)).ToArray();
        using var scope = TensorScope.Begin();
        var za = Tensor.FromArray<float>(Values(43), new Shape(n, 1));
        var zb = Tensor.FromArray<float>(Values(44), new Shape(n, 1));
        using var grads = VicregLoss.TermGradients(za, zb);
        Assert.Equal(0, grads.Terms.Covariance);
        Assert.All(grads.CovarianceA.ToArray<float>(), g => Assert.Equal(0f, g));
        Assert.All(grads.CovarianceB.ToArray<float>(), g => Assert.Equal(0f, g));
        var output = new VicregLoss().Forward(za, zb);
        Assert.Equal(0, output.ReadTerms().Covariance);
    }

    [Fact]
    public void PermutingTheBatchPermutesTheGradientAndKeepsTheLoss()
    {
        const int n = 8, d = 6;
        var a = Embeddings(n, d, 11);
        var b = Embeddings(n, d, 12);
        int[] perm = [3, 7, 0, 5, 1, 6, 2, 4];
        double[] Permute(double[] z) => Enumerable.Range(0, n * d).Select(k => z[perm[k / d] * d + k % d]).ToArray();
        using var scope = TensorScope.Begin();
        var loss = new VicregLoss();
        var za = T64(a, n, d, grad: true);
        var zb = T64(b, n, d, grad: true);
        var pa = T64(Permute(a), n, d, grad: true);
        var pb = T64(Permute(b), n, d, grad: true);
        var l1 = loss.Forward(za, zb).Loss;
        l1.Backward();
        var l2 = loss.Forward(pa, pb).Loss;
        l2.Backward();
        Assert.Equal(l1.Item(), l2.Item(), 11);
        Assert.Equal(Permute(za.Grad!.ToArray<double>()), pa.Grad!.ToArray<double>(), new Tolerance(1e-12));
        Assert.Equal(Permute(zb.Grad!.ToArray<double>()), pb.Grad!.ToArray<double>(), new Tolerance(1e-12));
    }

    private sealed class Tolerance(double eps) : IEqualityComparer<double>
    {
        public bool Equals(double x, double y) => Math.Abs(x - y) <= eps * Math.Max(1, Math.Abs(x));
        public int GetHashCode(double obj) => 0;
    }

    [Fact]
    public void Float32AgreesWithFloat64()
    {
        const int n = 32, d = 24;
        var a = Embeddings(n, d, 13);
        var b = Embeddings(n, d, 14);
        using var scope = TensorScope.Begin();
        var loss = new VicregLoss();
        var t64 = loss.Forward(T64(a, n, d), T64(b, n, d)).ReadTerms();
        var f32 = loss.Forward(Tensor.FromArray<float>(a.Select(v => (float)v).ToArray(), new Shape(n, d)),
            Tensor.FromArray<float>(b.Select(v => (float)v).ToArray(), new Shape(n, d))).ReadTerms();
        Assert.Equal(1, f32.Invariance / t64.Invariance, 5);
        Assert.Equal(1, f32.Variance / t64.Variance, 5);
        Assert.Equal(1, f32.Covariance / t64.Covariance, 5);
    }

    [Fact]
    public void BadInputsAreClearErrors()
    {
        using var scope = TensorScope.Begin();
        var loss = new VicregLoss();
        var one = Assert.Throws<ShapeMismatchException>(() => loss.Forward(Tensor.Zeros(new Shape(1, 4)), Tensor.Zeros(new Shape(1, 4))));
        Assert.Contains("at least 2 samples", one.Message);
        var shapes = Assert.Throws<ShapeMismatchException>(() => loss.Forward(Tensor.Zeros(new Shape(3, 4)), Tensor.Zeros(new Shape(3, 5))));
        Assert.Contains("[3, 4]", shapes.Message);
        Assert.Throws<ShapeMismatchException>(() => loss.Forward(Tensor.Zeros(new Shape(3, 4)), Tensor.Zeros(new Shape(3, 4), DType.Float64)));
    }

    [Fact]
    public void ATrainingStepAllocatesNoNewHostMemoryOnceWarm()
    {
        const int n = 16, d = 12;
        var a = Embeddings(n, d, 15).Select(v => (float)v).ToArray();
        var za = Tensor.FromArray<float>(a, new Shape(n, d));
        var zb = Tensor.FromArray<float>(a.Reverse().ToArray(), new Shape(n, d));
        za.RequiresGrad = zb.RequiresGrad = true;
        var loss = new VicregLoss();
        void Step()
        {
            using var scope = TensorScope.Begin();
            za.Grad = null; zb.Grad?.Dispose();
            zb.Grad = null;
            loss.Forward(za, zb).Loss.Backward();
            za.Grad?.Dispose();
            za.Grad = null;
        }
        Step();
        Step();
        long before = CpuBackend.Instance.MemoryStatistics.SystemAllocations;
        for (int i = 0; i < 3; i++) Step();
        Assert.Equal(before, CpuBackend.Instance.MemoryStatistics.SystemAllocations);
    }

    [SkippableTheory]
    [Trait("Reference", "PyTorch")]
    [InlineData(7, 5)]
    [InlineData(4, 9)]
    public void MatchesTheOfficialPyTorchFormula(int n, int d)
    {
        PythonReference.SkipUnlessTorch();
        using var dir = new TempFolder();
        var a = Embeddings(n, d, 21);
        var b = Embeddings(n, d, 22);
        using var scope = TensorScope.Begin();
        var za = T64(a, n, d);
        var zb = T64(b, n, d);
        SafetensorsWriter.Write(dir.File("in.safetensors"), [("z_a", za), ("z_b", zb)]);
        PythonReference.RunScript("vicreg_loss_reference.py", dir.File("in.safetensors"), dir.File("out.safetensors"), "25", "25", "1");
        using var r = new SafetensorsReader(dir.File("out.safetensors"));
        double Scalar(string name) => r.ReadTensor(name).Item();
        double[] Values(string name) => r.ReadTensor(name).ToArray<double>();

        var loss = new VicregLoss(25, 25, 1);
        var za2 = T64(a, n, d, grad: true);
        var zb2 = T64(b, n, d, grad: true);
        var output = loss.Forward(za2, zb2);
        var terms = output.ReadTerms();
        Assert.Equal(Scalar("loss"), output.Loss.Item(), 10);
        Assert.Equal(Scalar("invariance"), terms.Invariance, 12);
        Assert.Equal(Scalar("variance"), terms.Variance, 12);
        Assert.Equal(Scalar("covariance"), terms.Covariance, 10);
        output.Loss.Backward();
        var tol = new Tolerance(1e-10);
        Assert.Equal(Values("grad_z_a"), za2.Grad!.ToArray<double>(), tol);
        Assert.Equal(Values("grad_z_b"), zb2.Grad!.ToArray<double>(), tol);
        using var g = VicregLoss.TermGradients(za, zb);
        Assert.Equal(Values("grad_z_a.invariance"), g.InvarianceA.ToArray<double>(), tol);
        Assert.Equal(Values("grad_z_a.variance"), g.VarianceA.ToArray<double>(), tol);
        Assert.Equal(Values("grad_z_a.covariance"), g.CovarianceA.ToArray<double>(), tol);
        Assert.Equal(Values("grad_z_b.invariance"), g.InvarianceB.ToArray<double>(), tol);
        Assert.Equal(Values("grad_z_b.variance"), g.VarianceB.ToArray<double>(), tol);
        Assert.Equal(Values("grad_z_b.covariance"), g.CovarianceB.ToArray<double>(), tol);
    }
}
