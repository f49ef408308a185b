using Vicreg.Engine;
using Vicreg.Engine.Backends.Cuda;

namespace Vicreg.Tests.Engine.Backends.Cuda;

/// <summary>One CUDA backend shared by the device tests (TF32 off, so results compare tightly with the CPU),
/// or the reason there is none. Tests call <see cref="Require"/> first: without a device they are reported as
/// skipped with the reason, never passed.</summary>
internal static class CudaTestDevice
{
    private static readonly Lazy<(CudaBackend? Backend, string Reason)> s_device = new(() =>
    {
        if (CudaProbe.Run().Unavailable is { } why) return (null, why);
        try { return (new CudaBackend(0, allowTf32: false), ""); }
        catch (Exception e) { return (null, e.Message); }
    });

    public static CudaBackend Require()
    {
        var (backend, reason) = s_device.Value;
        Skip.If(backend is null, $"skipped: no CUDA device ({reason})");
        return backend!;
    }

    public static float[] RandomArray(int n, ulong seed, double low = -1, double high = 1)
    {
        var rng = new Rng(seed);
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float)rng.Uniform(low, high);
        return a;
    }

    public static Tensor On(IBackend backend, float[] values, params int[] dims) => Tensor.FromArray<float>(values, new Shape(dims), backend);
    public static Tensor On(IBackend backend, int[] values, params int[] dims) => Tensor.FromArray<int>(values, new Shape(dims), backend);

    /// <summary>|a - e| &lt;= atol + rtol |e| elementwise, reporting the first offender.</summary>
    public static void AssertClose(float[] expected, float[] actual, double rtol, double atol, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double e = expected[i], a = actual[i];
            if (double.IsNaN(e) && double.IsNaN(a)) continue;
            Assert.True(Math.Abs(a - e) <= atol + rtol * Math.Abs(e), $"{what}[{i}]: cuda {a} vs cpu {e} (of {expected.Length})");
        }
    }
}
