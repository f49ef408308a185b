using Vicreg.Engine.Backends.Cpu;

namespace Vicreg.Bench;

/// <summary>Our GEMM beside OpenBLAS sgemm on square sizes and on ResNet-18's per-image conv GEMMs,
/// single-threaded and on all cores.</summary>
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
        shapes.AddRange(ResNet18.PerImageGemms());

        int all = Environment.ProcessorCount;
        Console.WriteLine($"{"shape",-28} {"m",5} {"n",5} {"k",5} | {"ours 1T",8} {"blas 1T",8} {"ratio",6} | {"ours " + all + "T",8} {"blas " + all + "T",8} {"ratio",6}");
        var ratios1 = new List<double>();
        foreach (var s in shapes)
        {
            var (o1, b1) = Compare(s, 1, options.Repeats);
            var (on, bn) = Compare(s, all, options.Repeats);
            ratios1.Add(o1 / b1);
            Console.WriteLine($"{s.Label,-28} {s.M,5} {s.N,5} {s.K,5} | {o1,8:F1} {b1,8:F1} {o1 / b1,6:F2} | {on,8:F1} {bn,8:F1} {on / bn,6:F2}");
        }
        Console.WriteLine($"geometric mean single-thread ratio ours/OpenBLAS: {Math.Exp(ratios1.Average(Math.Log)):F2}");
        CpuParallel.ThreadCount = CpuParallel.DefaultThreadCount();
        OpenBlas.Threads(all);
    }

    /// <summary>GFLOP/s of ours and of OpenBLAS on one shape with the given thread count, interleaved in
    /// the same run.</summary>
    public static (double Ours, double Blas) Compare(GemmShape s, int threads, int repeats)
    {
        using var a = new NativeArray((long)s.M * s.K, 1);
        using var b = new NativeArray((long)s.K * s.N, 2);
        using var c = new NativeArray((long)s.M * s.N, 3);
        CpuParallel.ThreadCount = threads;
        OpenBlas.Threads(threads);
        float* pa = a.Pointer, pb = b.Pointer, pc = c.Pointer;
        var (ours, blas) = Measure.MedianSecondsInterleaved(
            () => GemmKernel.Run(s.TransA, s.TransB, s.M, s.N, s.K, 1f, pa, s.Lda, pb, s.Ldb, 0f, pc, s.N),
            () => OpenBlas.Sgemm(s.TransA, s.TransB, s.M, s.N, s.K, 1f, pa, s.Lda, pb, s.Ldb, 0f, pc, s.N), repeats);
        return (Measure.GFlops(s.Flops, ours), Measure.GFlops(s.Flops, blas));
    }
}
