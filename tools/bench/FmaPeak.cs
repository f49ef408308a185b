using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Vicreg.Bench;

/// <summary>
/// The machine's float32 multiply-add peak on one core, measured: a loop of 256-bit FMAs on twelve
/// independent register accumulators (more than latency × issue width on current x86 cores, so the FMA
/// units, not the dependency chains, set the pace), no memory traffic. The best of several samples is
/// kept: other processes on a shared machine can only slow a sample down.
/// </summary>
public static class FmaPeak
{
    private static double s_gflops;

    /// <summary>GFLOP/s of one core (2 flops per FMA lane); NaN without FMA. Measured once per process.</summary>
    public static double SingleCoreGFlops()
    {
        if (s_gflops != 0) return s_gflops;
        if (!Fma.IsSupported) return s_gflops = double.NaN;
        const long iterations = 2_000_000;
        Loop(1000);
        double best = 0;
        for (int sample = 0; sample < 9; sample++)
        {
            long start = Stopwatch.GetTimestamp();
            float sink = Loop(iterations);
            double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
            if (float.IsNaN(sink)) Console.WriteLine("# (FMA loop produced NaN)"); // keeps the result live
            best = Math.Max(best, iterations * 12.0 * Vector256<float>.Count * 2 / seconds * 1e-9);
        }
        return s_gflops = best;
    }

    /// <summary>One line placing an achieved rate against the peak of <paramref name="threads"/> cores.</summary>
    public static string Fraction(double gflops, int threads)
    {
        double peak = SingleCoreGFlops() * threads;
        return $"{gflops,6:F1} GFLOP/s = {100 * gflops / peak,4:F1}% of the measured FMA peak ({peak:F1} GFLOP/s on {threads} core(s))";
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static float Loop(long iterations)
    {
        var m = Vector256.Create(0.999999f);
        var a = Vector256.Create(1e-7f);
        Vector256<float> c0 = Vector256.Create(1f), c1 = Vector256.Create(2f), c2 = Vector256.Create(3f), c3 = Vector256.Create(4f);
        Vector256<float> c4 = Vector256.Create(5f), c5 = Vector256.Create(6f), c6 = Vector256.Create(7f), c7 = Vector256.Create(8f);
        Vector256<float> c8 = Vector256.Create(9f), c9 = Vector256.Create(10f), c10 = Vector256.Create(11f), c11 = Vector256.Create(12f);
        for (long i = 0; i < iterations; i++)
        {
            c0 = Fma.MultiplyAdd(c0, m, a); c1 = Fma.MultiplyAdd(c1, m, a); c2 = Fma.MultiplyAdd(c2, m, a);
            c3 = Fma.MultiplyAdd(c3, m, a); c4 = Fma.MultiplyAdd(c4, m, a); c5 = Fma.MultiplyAdd(c5, m, a);
            c6 = Fma.MultiplyAdd(c6, m, a); c7 = Fma.MultiplyAdd(c7, m, a); c8 = Fma.MultiplyAdd(c8, m, a);
            c9 = Fma.MultiplyAdd(c9, m, a); c10 = Fma.MultiplyAdd(c10, m, a); c11 = Fma.MultiplyAdd(c11, m, a);
        }
        var sum = ((c0 + c1) + (c2 + c3)) + ((c4 + c5) + (c6 + c7)) + ((c8 + c9) + (c10 + c11));
        return Vector256.Sum(sum);
    }
}
