using Vicreg.Engine;
using Vicreg.Engine.Backends.Cpu;

namespace Vicreg.Tests.Engine.Cpu;

/// <summary>Shared helpers of the CPU kernel tests: random tensors of either float type (never zeros),
/// reading back as double, tolerant comparison, and a scoped thread count.</summary>
internal static class KernelTestSupport
{
    public static readonly DType[] FloatTypes = [DType.Float32, DType.Float64];

    public static CpuBackend Host => CpuBackend.Instance;

    /// <summary>Uniform values in ±[0.05, scale]: random signs, never zero or tiny.</summary>
    public static double[] RandomValues(ref Rng rng, long n, double scale = 2.0)
    {
        var a = new double[n];
        for (long i = 0; i < n; i++)
        {
            double magnitude = rng.Uniform(0.05, scale);
            a[i] = rng.Bernoulli(0.5) ? magnitude : -magnitude;
        }
        return a;
    }

    public static double[] PositiveValues(ref Rng rng, long n, double low = 0.1, double high = 3.0)
    {
        var a = new double[n];
        for (long i = 0; i < n; i++) a[i] = rng.Uniform(low, high);
        return a;
    }

    public static Tensor Make(double[] values, Shape shape, DType dtype)
    {
        if (dtype == DType.Float64) return Tensor.FromArray<double>(values, shape, Host);
        var f = new float[values.Length];
        for (int i = 0; i < f.Length; i++) f[i] = (float)values[i];
        return Tensor.FromArray<float>(f, shape, Host);
    }

    /// <summary>A random tensor and its values as double (rounded to the tensor's type, so references use what the kernel saw).</summary>
    public static (Tensor Tensor, double[] Values) Random(ref Rng rng, Shape shape, DType dtype, double scale = 2.0)
    {
        var t = Make(RandomValues(ref rng, shape.Numel, scale), shape, dtype);
        return (t, Read(t));
    }

    /// <summary>A tensor filled with a value no correct kernel would write, so unwritten outputs show.</summary>
    public static Tensor Garbage(Shape shape, DType dtype) => Tensor.Full(shape, 12345.678, dtype, Host);

    public static double[] Read(Tensor t) => t.DType switch
    {
        DType.Float64 => t.ToArray<double>(),
        DType.Float32 => Array.ConvertAll(t.ToArray<float>(), v => (double)v),
        _ => Array.ConvertAll(t.ToArray<int>(), v => (double)v),
    };

    /// <summary>Relative tolerance fitting the type: float32 kernels round once or twice per element.</summary>
    public static double Tolerance(DType dtype) => dtype == DType.Float32 ? 2e-5 : 1e-12;

    /// <summary>|actual - expected| &lt;= tol * max(1, |expected|) element by element, naming the first miss.</summary>
    public static void AssertClose(ReadOnlySpan<double> expected, ReadOnlySpan<double> actual, double tol, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double e = expected[i], a = actual[i];
            if (double.IsNaN(e) && double.IsNaN(a)) continue;
            if (!(Math.Abs(a - e) <= tol * Math.Max(1.0, Math.Abs(e))))
                Assert.Fail($"{what}: element {i} is {a:R}, expected {e:R} (tolerance {tol})");
        }
    }

    public static ThreadCountScope Threads(int count) => new(count);

    public sealed class ThreadCountScope : IDisposable
    {
        private readonly int _previous;

        public ThreadCountScope(int count)
        {
            _previous = CpuParallel.ThreadCount;
            if (count != _previous) CpuParallel.ThreadCount = count;
        }

        public void Dispose()
        {
            if (CpuParallel.ThreadCount != _previous) CpuParallel.ThreadCount = _previous;
        }
    }
}

/// <summary>The kernel tests change the process-wide <see cref="CpuParallel.ThreadCount"/>, so they run
/// alone rather than beside other tests that would see the count change under them.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class CpuThreadCountCollection
{
    public const string Name = "CPU thread count";
}
