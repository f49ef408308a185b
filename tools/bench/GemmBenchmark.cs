using Vicreg.Engine.Backends.Cpu.Gemm;
using Vicreg.Engine.Backends.Cpu;

namespace Vicreg.Bench;

/// <summary>Our GEMM beside OpenBLAS sgemm on square sizes and on the GEMMs a VICReg step issues
/// (<see cref="IssuedGemms"/>: ResNet-18 and the quickstart's network; ResNet-50 too unless --quick),
/// single-threaded (timed by the thread's CPU clock) and on all cores (wall clock), the best of several
/// interleaved repeats.</summary>
public sealed unsafe class GemmBenchmark : IBenchmark
{
    public string Name => "gemm";
    public string Description => "float32 GEMM vs OpenBLAS sgemm (GFLOP/s, 1 thread and all threads)";

    public void Run(BenchOptions options)
    {
        if (!OpenBlas.IsAvailable)
        {
            Console.WriteLine("OpenBLAS (libopenblas.so.0) not found: install libopenblas0-pthread for the anchor");
            return;
        }
        Console.WriteLine($"anchor: OpenBLAS core {OpenBlas.CoreName}; ours: {GemmKernel.ActivePath} micro-kernel");
        var shapes = new List<GemmShape>
        {
            new("square 256", 256, 256, 256, false, false),
            new("square 1024", 1024, 1024, 1024, false, false),
        };
        if (!options.Quick) shapes.Add(new("square 2048", 2048, 2048, 2048, false, false));
        shapes.AddRange(options.Quick ? IssuedGemms.Shapes.Where(s => s.Label.Contains("(c")) : IssuedGemms.Shapes);
        if (!options.Quick) shapes.AddRange(IssuedGemms.ResNet50);
        if (options.Shapes is { } only) shapes = shapes.Where(s => s.Label.Contains(only, StringComparison.OrdinalIgnoreCase)).ToList();
        if (shapes.Count == 0)
        {
            Console.WriteLine($"no product's label contains '{options.Shapes}'");
            return;
        }

        int all = Environment.ProcessorCount;
        // The 256-bit kernel is timed too where the machine picks the 512-bit one: it is what runs on
        // machines without AVX-512.
        bool showAvx2 = GemmKernel.ActivePath == GemmPath.Avx512;
        Console.WriteLine($"{"shape",-30} {"op",4} {"m",5} {"n",5} {"k",5} | {"ours 1T",8} {"blas 1T",8} {"ratio",6}" +
            (showAvx2 ? $" {"avx2 1T",8} {"ratio",6}" : "") + $" | {"ours " + all + "T",8} {"blas " + all + "T",8} {"ratio",6}");
        var ratios1 = new List<double>();
        var below = new List<string>();
        var ratiosAvx2 = new List<double>();
        foreach (var s in shapes)
        {
            var single = Compare(s, 1, options.Repeats, showAvx2);
            var multi = Compare(s, all, options.Repeats, false);
            ratios1.Add(single.Ours / single.Blas);
            if (single.Ours / single.Blas < TargetRatio) below.Add($"{s.Label} {single.Ours / single.Blas:F2}");
            if (showAvx2) ratiosAvx2.Add(single.Avx2 / single.Blas);
            Console.WriteLine($"{s.Label,-30} {Op(s),4} {s.M,5} {s.N,5} {s.K,5} | {single.Ours,8:F1} {single.Blas,8:F1} {single.Ours / single.Blas,6:F2}" +
                (showAvx2 ? $" {single.Avx2,8:F1} {single.Avx2 / single.Blas,6:F2}" : "") +
                $" | {multi.Ours,8:F1} {multi.Blas,8:F1} {multi.Ours / multi.Blas,6:F2}");
        }
        Console.WriteLine($"geometric mean single-thread ratio ours/OpenBLAS: {Math.Exp(ratios1.Average(Math.Log)):F2}" +
            (showAvx2 ? $" (256-bit kernel alone: {Math.Exp(ratiosAvx2.Average(Math.Log)):F2})" : ""));
        Console.WriteLine(below.Count == 0
            ? $"every shape at {TargetRatio:F2} of OpenBLAS or above, 1 thread"
            : $"below {TargetRatio:F2} of OpenBLAS, 1 thread ({below.Count} of {shapes.Count}): {string.Join("; ", below)}");
        CpuParallel.ThreadCount = CpuParallel.DefaultThreadCount();
        OpenBlas.Threads(all);
    }

    /// <summary>The bar the products a step issues are held to: our single-thread rate at least this share of OpenBLAS's.</summary>
    private const double TargetRatio = 0.95;

    /// <summary>"NT", "PN" ...: how A (P = pre-packed) and B are read.</summary>
    private static string Op(GemmShape s) => $"{(s.PackedA ? 'P' : s.TransA ? 'T' : 'N')}{(s.TransB ? 'T' : 'N')}";

    /// <summary>GFLOP/s of ours and of OpenBLAS on one shape with the given thread count, interleaved in
    /// the same run.</summary>
    public static (double Ours, double Blas, double Avx2) Compare(GemmShape s, int threads, int repeats, bool withAvx2)
    {
        using var a = new NativeArray(s.ASize, 1);
        using var b = new NativeArray(s.BSize, 2);
        using var c = new NativeArray(s.CSize, 3);
        // A pre-packed shape times only what the convolution repeats per call: its A is packed once per batch.
        using var packed = new NativeArray(s.PackedA ? GemmKernel.PackedASize<float>(s.M, s.K) : 0, 4);
        CpuParallel.ThreadCount = threads;
        OpenBlas.Threads(threads);
        float* pa = a.Pointer, pb = b.Pointer, pc = c.Pointer, pp = packed.Pointer;
        if (s.PackedA) GemmKernel.PackWholeA(s.TransA, s.M, s.K, 1f, pa, s.Lda, pp);
        Action ours = s.PackedA
            ? () => GemmKernel.RunPackedA(s.M, s.N, s.K, pp, s.TransB, pb, s.Ldb, s.Beta, pc, s.Ldc, parallel: true)
            : () => GemmKernel.Run(s.TransA, s.TransB, s.M, s.N, s.K, 1f, pa, s.Lda, pb, s.Ldb, s.Beta, pc, s.Ldc);
        Action blas = () => OpenBlas.Sgemm(s.TransA, s.TransB, s.M, s.N, s.K, 1f, pa, s.Lda, pb, s.Ldb, s.Beta, pc, s.Ldc);
        Action avx2 = () =>
        {
            GemmKernel.ForcedPath = GemmPath.Avx2;
            try { ours(); }
            finally { GemmKernel.ForcedPath = GemmPath.Auto; }
        };
        // One thread runs on the caller, so its CPU clock leaves out the time other processes took the core.
        bool cpuClock = threads == 1 && ThreadCpuClock.IsAvailable;
        var t = withAvx2 ? Measure.BestSecondsInterleaved(repeats, cpuClock, ours, blas, avx2) : Measure.BestSecondsInterleaved(repeats, cpuClock, ours, blas);
        return (Measure.GFlops(s.Flops, t[0]), Measure.GFlops(s.Flops, t[1]), withAvx2 ? Measure.GFlops(s.Flops, t[2]) : double.NaN);
    }
}
