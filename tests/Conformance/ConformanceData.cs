using Vicreg.Engine;

namespace Vicreg.Tests.Conformance;

/// <summary>Random float32 test data (never zeros), tensors on a given backend, and the comparisons the
/// conformance suite makes against the reference backend.</summary>
internal static class ConformanceData
{
    /// <summary>Unit roundoff of float32, 2^-24.</summary>
    public const double Float32Roundoff = 5.9604644775390625e-8;

    /// <summary>Values in ±[0.05, scale] with random signs, rounded to float32 (so every backend sees the same inputs).</summary>
    public static double[] Random(long n, ulong seed, double scale = 1)
    {
        var rng = new Rng(seed);
        var a = new double[n];
        for (long i = 0; i < n; i++)
        {
            double magnitude = rng.Uniform(0.05, scale);
            a[i] = (float)(rng.Bernoulli(0.5) ? magnitude : -magnitude);
        }
        return a;
    }

    /// <summary>Values in [low, high], rounded to float32 (for sqrt, log and variances).</summary>
    public static double[] Positive(long n, ulong seed, double low = 0.1, double high = 3)
    {
        var rng = new Rng(seed);
        var a = new double[n];
        for (long i = 0; i < n; i++) a[i] = (float)rng.Uniform(low, high);
        return a;
    }

    public static Tensor On(IBackend backend, double[] values, params int[] dims)
        => Tensor.FromArray<float>(Array.ConvertAll(values, v => (float)v), new Shape(dims), backend);

    public static Tensor On(IBackend backend, int[] values, params int[] dims) => Tensor.FromArray<int>(values, new Shape(dims), backend);

    public static double[] Read(Tensor t) => t.DType == DType.Int32
        ? Array.ConvertAll(t.ToArray<int>(), v => (double)v)
        : Array.ConvertAll(t.ToArray<float>(), v => (double)v);

    public static double[] Abs(double[] values) => Array.ConvertAll(values, Math.Abs);

    /// <summary>|actual - expected| &lt;= rtol |expected| + atol element by element, naming the first miss.</summary>
    public static void AssertClose(double[] expected, double[] actual, double rtol, double atol, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double e = expected[i], a = actual[i];
            if (double.IsNaN(e) && double.IsNaN(a)) continue;
            Assert.True(Math.Abs(a - e) <= rtol * Math.Abs(e) + atol,
                $"{what}[{i}]: {a:R} vs reference {e:R} (of {expected.Length}; tolerance {rtol:G3} relative + {atol:G3})");
        }
    }

    /// <summary>Sums of products: |actual - expected| &lt;= 2 (terms + 4) u magnitude, the classical bound on a float32
    /// sum of <paramref name="terms"/> products in any order (blocked, pairwise, tree or FMA), where magnitude is the
    /// same sum over the absolute values. An indexing mistake shows as an error of the order of the magnitude itself.</summary>
    public static void AssertWithinSumBound(double[] expected, double[] actual, double[] magnitude, long terms, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double bound = 2.0 * (terms + 4) * Float32Roundoff * Math.Abs(magnitude[i]) + 1e-30;
            Assert.True(Math.Abs(actual[i] - expected[i]) <= bound,
                $"{what}[{i}]: {actual[i]:R} vs reference {expected[i]:R} (of {expected.Length}; bound {bound:G3} for {terms} terms)");
        }
    }
}
