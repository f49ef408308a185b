using Vicreg.Engine;
using Vicreg.Engine.Backends.Cpu;

namespace Vicreg.Tests.Engine.Backends.Cpu;

/// <summary>Shared helpers of the CPU kernel tests: random tensors of either float type (never zeros),
/// reading back as double, tolerant comparison, and a scoped thread count.</summary>
internal static class KernelTestSupport
{
    public static readonly DType[] FloatTypes = [DType.Float32, DType.Float64];

    public static CpuBackend Host => CpuBackend.Instance;

    /// <summary>Every case index in [0, <paramref name="count"/>) on 1 and on 2 threads.</summary>
    public static TheoryData<int, int> CasesOnOneAndTwoThreads(int count)
    {
        var data = new TheoryData<int, int>();
        for (int i = 0; i < count; i++)
        {
            data.Add(i, 1);
            data.Add(i, 2);
        }
        return data;
    }

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

    /// <summary>Runs the rest of a test on <paramref name="count"/> kernel threads (restored on dispose).</summary>
    public static ThreadCountScope Threads(int count) => new(count);
}

internal static class AllocationCheck
{
    /// <summary>Managed bytes allocated on this thread by <paramref name="kernel"/> after a warm-up (which
    /// lets the JIT settle): the kernels promise none per call.</summary>
    public static long BytesAllocated(Action kernel)
    {
        for (int i = 0; i < 3; i++) kernel();
        // The runtime may allocate on this thread while it re-compiles a hot method at a higher tier;
        // a kernel that allocates does so on every call, so the least of three measurements is its own.
        long least = long.MaxValue;
        for (int attempt = 0; attempt < 3; attempt++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 5; i++) kernel();
            least = Math.Min(least, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        return least;
    }
}
