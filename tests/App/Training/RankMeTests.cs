using Vicreg.Engine;
using Vicreg.Engine.Backends.Cpu;
using Vicreg.Engine.IO;
using Vicreg.Tests.Engine.IO;
using Vicreg.Training;

namespace Vicreg.Tests.App.Training;

/// <summary>The symmetric eigenvalue solver and RankMe against matrices built with known spectra
/// (Q diag(λ) Q^T, Q1 diag(s) Q2^T) at awkward sizes, the rank-1 and equal-spectrum limits, and PyTorch's SVD.</summary>
public class RankMeTests
{
    /// <summary>A [rows, cols] matrix with orthonormal columns (cols &lt;= rows): Gram-Schmidt, twice, on Gaussian columns.</summary>
    internal static double[,] Orthonormal(int rows, int cols, ulong seed)
    {
        var rng = new Rng(seed);
        var q = new double[rows, cols];
        for (int j = 0; j < cols; j++)
        {
            for (int i = 0; i < rows; i++) q[i, j] = rng.NextNormal();
            for (int pass = 0; pass < 2; pass++)
                for (int p = 0; p < j; p++)
                {
                    double dot = 0;
                    for (int i = 0; i < rows; i++) dot += q[i, p] * q[i, j];
                    for (int i = 0; i < rows; i++) q[i, j] -= dot * q[i, p];
                }
            double norm = 0;
            for (int i = 0; i < rows; i++) norm += q[i, j] * q[i, j];
            norm = Math.Sqrt(norm);
            for (int i = 0; i < rows; i++) q[i, j] /= norm;
        }
        return q;
    }

    /// <summary>Q1 diag(s) Q2^T as a row-major [n, d] array, with Q1 [n, r] and Q2 [d, r] orthonormal (r = s.Length).</summary>
    internal static double[] WithSingularValues(int n, int d, double[] s, ulong seed)
    {
        var q1 = Orthonormal(n, s.Length, seed);
        var q2 = Orthonormal(d, s.Length, seed + 1000);
        var z = new double[n * d];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < d; j++)
                for (int k = 0; k < s.Length; k++) z[i * d + j] += q1[i, k] * s[k] * q2[j, k];
        return z;
    }

    private static double Entropy(IEnumerable<double> s)
    {
        double sum = s.Sum();
        return Math.Exp(-s.Select(v => v / sum + RankMe.Epsilon).Sum(p => p * Math.Log(p)));
    }

    [Theory]
    [InlineData(1, 11)]
    [InlineData(2, 12)]
    [InlineData(3, 13)]
    [InlineData(7, 14)]
    [InlineData(31, 15)]
    [InlineData(64, 16)]
    public void EigenvaluesOfAMatrixWithAKnownSpectrum(int n, ulong seed)
    {
        var rng = new Rng(seed);
        // Mixed signs, a repeated value and a zero where the size allows: the awkward cases for bisection.
        var lambda = Enumerable.Range(0, n).Select(i => i switch { 1 => 0.0, 2 => 2.5, 3 => 2.5, _ => rng.Uniform(-4, 9) }).ToArray();
        var q = Orthonormal(n, n, seed + 7);
        var a = new double[n * n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                for (int k = 0; k < n; k++) a[i * n + j] += q[i, k] * lambda[k] * q[j, k];
        var found = SymmetricEigenvalues.Compute(a, n);
        var expected = lambda.Order().ToArray();
        double scale = lambda.Max(Math.Abs);
        for (int i = 0; i < n; i++)
            Assert.True(Math.Abs(found[i] - expected[i]) <= 1e-12 * scale, $"eigenvalue {i} of {n}: {found[i]:R}, expected {expected[i]:R}");
    }

    [Fact]
    public void EigenvaluesOfAnAlreadyTridiagonalAndADiagonalMatrix()
    {
        // The 1-2-1 second-difference matrix: eigenvalues 2 - 2 cos(k pi / (n + 1)).
        const int n = 9;
        var a = new double[n * n];
        for (int i = 0; i < n; i++)
        {
            a[i * n + i] = 2;
            if (i > 0) a[i * n + i - 1] = a[(i - 1) * n + i] = -1;
        }
        var found = SymmetricEigenvalues.Compute(a, n);
        for (int k = 1; k <= n; k++) Assert.Equal(2 - 2 * Math.Cos(k * Math.PI / (n + 1)), found[k - 1], 13);
        var diagonal = SymmetricEigenvalues.Compute([5, 0, 0, 0, 0, -3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 4);
        double[] sorted = [-3, 0, 0, 5];
        for (int i = 0; i < 4; i++) Assert.True(Math.Abs(diagonal[i] - sorted[i]) <= 1e-14 * 5, $"diagonal matrix, eigenvalue {i}: {diagonal[i]:R}");
        Assert.Empty(SymmetricEigenvalues.Compute([], 0));
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(1, 7)]
    [InlineData(7, 1)]
    [InlineData(5, 13)]
    [InlineData(13, 5)]
    [InlineData(31, 17)]
    [InlineData(64, 127)]
    public void SingularValuesAndRankMeOfAMatrixWithKnownSingularValues(int n, int d)
    {
        int r = Math.Min(n, d);
        var rng = new Rng((ulong)(n * 131 + d));
        var s = Enumerable.Range(0, r).Select(_ => rng.Uniform(0.1, 3)).ToArray();
        var z = WithSingularValues(n, d, s, (ulong)(n + d));
        var found = RankMe.SingularValues(z, n, d);
        var expected = s.Order().ToArray();
        Assert.Equal(r, found.Length);
        for (int i = 0; i < r; i++) Assert.True(Math.Abs(found[i] - expected[i]) <= 1e-11, $"singular value {i}: {found[i]:R}, expected {expected[i]:R}");
        Assert.Equal(Entropy(s), RankMe.FromSingularValues(found), 10);
    }

    [Theory]
    [InlineData(13, 5)]
    [InlineData(40, 64)]
    [InlineData(97, 97)]
    public void TheLimitsAreOneForRankOneAndTheSizeForEqualSingularValues(int n, int d)
    {
        int r = Math.Min(n, d);
        var equal = WithSingularValues(n, d, Enumerable.Repeat(1.7, r).ToArray(), 3);
        double full = RankMe.FromSingularValues(RankMe.SingularValues(equal, n, d));
        Assert.True(Math.Abs(full - r) <= 1e-4 * r, $"equal singular values: RankMe {full}, expected about {r}");
        // Rank 1: every row a multiple of one vector. Only eps (1e-7 per singular value) lifts it above 1.
        var one = WithSingularValues(n, d, [4.2], 5);
        double single = RankMe.FromSingularValues(RankMe.SingularValues(one, n, d));
        Assert.InRange(single, 1, 1 + 2e-5 * r);
        // Rank 3 with equal values: three.
        var three = WithSingularValues(n, d, [2, 2, 2], 9);
        Assert.Equal(3, RankMe.FromSingularValues(RankMe.SingularValues(three, n, d)), 3);
        Assert.Equal(1, RankMe.FromSingularValues(new double[r]), 3); // all zero: every p_k is eps
    }

    [Fact]
    public void OfATensorIsTheHostComputationInEitherPrecision()
    {
        const int n = 11, d = 6;
        var z = WithSingularValues(n, d, [3, 2, 1, 0.5, 0.25, 0.1], 21);
        double expected = RankMe.FromSingularValues(RankMe.SingularValues(z, n, d));
        using var scope = TensorScope.Begin();
        Assert.Equal(expected, RankMe.Of(Tensor.FromArray<double>(z, new Shape(n, d), CpuBackend.Instance)), 12);
        Assert.Equal(expected, RankMe.Of(Tensor.FromArray<float>(z.Select(v => (float)v).ToArray(), new Shape(n, d), CpuBackend.Instance)), 5);
    }

    [SkippableFact]
    [Trait("Reference", "PyTorch")]
    public void MatchesPyTorchsSvdOnRandomMatrices()
    {
        PythonReference.SkipUnlessTorch();
        using var dir = new TempFolder();
        var shapes = new[] { (1, 5), (6, 1), (17, 29), (29, 17), (64, 3) };
        var rng = new Rng(77);
        var matrices = shapes.Select(p => Enumerable.Range(0, p.Item1 * p.Item2).Select(i => rng.NextNormal() + 0.5 * (i % 3)).ToArray()).ToArray();
        using (var scope = TensorScope.Begin())
            SafetensorsWriter.Write(dir.File("in.safetensors"),
                shapes.Select((p, i) => ($"z{i}", Tensor.FromArray<double>(matrices[i], new Shape(p.Item1, p.Item2), CpuBackend.Instance))).ToList());
        PythonReference.RunScript("rankme_reference.py", dir.File("in.safetensors"), dir.File("out.safetensors"));
        using var r = new SafetensorsReader(dir.File("out.safetensors"));
        using var scope2 = TensorScope.Begin();
        for (int i = 0; i < shapes.Length; i++)
        {
            var (n, d) = shapes[i];
            var expected = r.ReadTensor($"z{i}.singular_values").ToArray<double>().Order().ToArray();
            var found = RankMe.SingularValues(matrices[i], n, d);
            for (int k = 0; k < found.Length; k++)
                Assert.True(Math.Abs(found[k] - expected[k]) <= 1e-9 * expected[^1], $"z{i} ({n}x{d}) singular value {k}: ours {found[k]:R}, PyTorch {expected[k]:R}");
            Assert.Equal(r.ReadTensor($"z{i}.rankme").Item(), RankMe.FromSingularValues(found), 10);
        }
    }
}
