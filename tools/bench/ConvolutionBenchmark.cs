using Vicreg.Engine.Backends.Cpu.Convolution;
using Vicreg.Engine.Backends.Cpu.Gemm;
using Vicreg.Engine.Backends.Cpu;
using Vicreg.Engine;

namespace Vicreg.Bench;

/// <summary>
/// A network's convolutions (ResNet-18 with the CIFAR stem on 32x32 inputs, or the quickstart's width-0.25
/// one on 28x28x1), forward + backward-data + backward-filter over every conv layer, through the CPU
/// backend. The anchor is our own GEMM on a large square product (1024^3) in the same run and with the same
/// threads: the ratio says how much of the GEMM's rate the lowering keeps.
/// </summary>
public sealed unsafe class ConvolutionBenchmark(string name, string description, ResNet18.ConvLayer[] layers, int fullBatch) : IBenchmark
{
    /// <summary>ResNet-18, CIFAR stem, 32x32x3, batch 64.</summary>
    public ConvolutionBenchmark() : this("conv", "ResNet-18 (CIFAR stem, 32x32, batch 64) conv fwd+bwd vs our GEMM rate", ResNet18.Layers, 64) { }

    public string Name => name;
    public string Description => description;

    public void Run(BenchOptions options)
    {
        int batch = options.Quick ? Math.Max(1, fullBatch / 4) : fullBatch;
        foreach (int threads in new[] { 1, Environment.ProcessorCount }.Distinct())
        {
            CpuParallel.ThreadCount = threads;
            var square = new GemmShape("square 1024", 1024, 1024, 1024, false, false);
            // The anchor is re-measured before every layer and its median used, so that it sees the same
            // background load as the convolutions do.
            var anchor = new List<double>();
            Console.WriteLine($"-- {threads} thread(s), batch {batch}");
            Console.WriteLine($"{"layer",-18} {"x",2} | {"fwd ms",8} {"GF/s",6} | {"bwdD ms",8} {"GF/s",6} | {"bwdW ms",8} {"GF/s",6}");
            double totalSeconds = 0, totalFlops = 0;
            foreach (var layer in layers)
            {
                anchor.Add(GemmRate(square, 3));
                var (f, d, w) = TimeLayer(layer, batch, options.Repeats);
                var g = Geometry(layer, batch);
                double flops = 2.0 * g.MultiplyAdds;
                totalSeconds += layer.Count * (f + d + w);
                totalFlops += layer.Count * 3 * flops;
                Console.WriteLine($"{layer.Label,-18} {layer.Count,2} | {f * 1e3,8:F2} {flops / f * 1e-9,6:F1} | {d * 1e3,8:F2} {flops / d * 1e-9,6:F1} | {w * 1e3,8:F2} {flops / w * 1e-9,6:F1}");
            }
            double rate = totalFlops / totalSeconds * 1e-9;
            anchor.Sort();
            double gemmRate = anchor[anchor.Count / 2];
            Console.WriteLine($"anchor: our GEMM 1024^3 at {threads} thread(s): {gemmRate:F1} GFLOP/s (median of {anchor.Count}, range {anchor[0]:F1}-{anchor[^1]:F1})");
            Console.WriteLine($"{name} convs fwd+bwd, batch {batch}: {totalSeconds * 1e3:F0} ms, {rate:F1} GFLOP/s effective; " +
                $"ratio to our GEMM {rate / gemmRate:F2} (target >= 0.60)");
            CompareWinograd(batch, options.Repeats);
        }
        CpuParallel.ThreadCount = CpuParallel.DefaultThreadCount();
    }

    /// <summary>The 3x3 stride-1 layers (and, to place the dispatch's channel threshold, narrower 32x32 layers)
    /// through im2col, Winograd F(2x2, 3x3), F(4x4, 3x3) and the dispatch's own choice, timed in alternation in
    /// the same run; "auto" marks what the dispatch picks (d the direct single-channel kernel for the forward and
    /// weight gradient; i im2col; else 2 or 4 for the forward and backward-data, then 2 or 4 for the weight
    /// gradient); the "x" columns are im2col's time over F(2x2)'s, F(4x4)'s and the dispatch's.</summary>
    private void CompareWinograd(int batch, int repeats)
    {
        var compared = layers.Where(l => l.Kernel == 3 && l.Stride == 1);
        if (layers == ResNet18.Layers)
            compared = compared.Concat([new ResNet18.ConvLayer("8->8 @32", 8, 8, 3, 1, 1, 32, 1), new ResNet18.ConvLayer("16->16 @32", 16, 16, 3, 1, 1, 32, 1),
                new ResNet18.ConvLayer("32->32 @32", 32, 32, 3, 1, 1, 32, 1)]);
        Console.WriteLine($"{"im2col/F2/F4",-18} {"auto",4} | {"fwd ms",31} {"x F2",5} {"x F4",5} {"x A",5} | {"bwdD ms",31} {"x F2",5} {"x F4",5} {"x A",5} | {"bwdW ms",31} {"x F2",5} {"x F4",5} {"x A",5}");
        foreach (var layer in compared)
        {
            var g = Geometry(layer, batch);
            using var passes = new LayerPasses(g);
            string auto = SingleChannelConvolution.Use<float>(g) ? "d" : !WinogradPolicy.Use<float>(g) ? "i"
                : (WinogradPolicy.UseF4<float>(g) ? "4" : "2") + (WinogradPolicy.UseF4Gradient<float>(g) ? "4" : "2");
            Action Forced(WinogradMode mode, Action a) => () =>
            {
                WinogradPolicy.Forced = mode;
                a();
                WinogradPolicy.Forced = WinogradMode.Auto;
            };
            double[] Three(Action a) => Measure.MedianSecondsInterleaved(repeats, Forced(WinogradMode.Off, a), Forced(WinogradMode.On, a),
                Forced(WinogradMode.F4x4, a), a);
            var f = Three(passes.Forward);
            var d = Three(passes.BackwardData);
            var k = Three(passes.BackwardFilter);
            static string Cell(double[] t) => $"{t[0] * 1e3,7:F2} {t[1] * 1e3,7:F2} {t[2] * 1e3,7:F2} {t[3] * 1e3,7:F2} {t[0] / t[1],5:F2} {t[0] / t[2],5:F2} {t[0] / t[3],5:F2}";
            Console.WriteLine($"{layer.Label,-18} {auto,4} | {Cell(f)} | {Cell(d)} | {Cell(k)}");
        }
    }

    private static Conv2dGeometry Geometry(ResNet18.ConvLayer l, int batch)
        => new(batch, l.InChannels, l.InSize, l.InSize, l.OutChannels, l.Kernel, l.Kernel, l.Stride, l.Stride, l.Pad, l.Pad);

    private static double GemmRate(GemmShape s, int repeats)
    {
        using var a = new NativeArray((long)s.M * s.K, 1);
        using var b = new NativeArray((long)s.K * s.N, 2);
        using var c = new NativeArray((long)s.M * s.N, 3);
        float* pa = a.Pointer, pb = b.Pointer, pc = c.Pointer;
        double seconds = Measure.MedianSeconds(() => GemmKernel.Run(false, false, s.M, s.N, s.K, 1f, pa, s.Lda, pb, s.Ldb, 0f, pc, s.N), repeats);
        return Measure.GFlops(s.Flops, seconds);
    }

    /// <summary>Median seconds of the forward, backward-data and backward-filter passes of one layer.</summary>
    private static (double Forward, double Data, double Filter) TimeLayer(ResNet18.ConvLayer layer, int batch, int repeats)
    {
        using var passes = new LayerPasses(Geometry(layer, batch));
        double f = Measure.MedianSeconds(passes.Forward, repeats, warmups: 1, minSeconds: 0);
        double d = Measure.MedianSeconds(passes.BackwardData, repeats, warmups: 1, minSeconds: 0);
        double k = Measure.MedianSeconds(passes.BackwardFilter, repeats, warmups: 1, minSeconds: 0);
        return (f, d, k);
    }

    /// <summary>One layer's random input, weights and output gradient, and the buffers its three passes write.</summary>
    private sealed class LayerPasses(Conv2dGeometry g) : IDisposable
    {
        private readonly Tensor _x = Random(g.InputShape, 1), _w = Random(g.WeightShape, 2), _dy = Random(g.OutputShape, 3);
        private readonly Tensor _y = Tensor.Empty(g.OutputShape, DType.Float32, CpuBackend.Instance);
        private readonly Tensor _dx = Tensor.Empty(g.InputShape, DType.Float32, CpuBackend.Instance);
        private readonly Tensor _dw = Tensor.Empty(g.WeightShape, DType.Float32, CpuBackend.Instance);

        public void Forward() => CpuBackend.Instance.Conv2dForward(g, _x, _w, _y);
        public void BackwardData() => CpuBackend.Instance.Conv2dBackwardData(g, _dy, _w, _dx);
        public void BackwardFilter() => CpuBackend.Instance.Conv2dBackwardFilter(g, _x, _dy, _dw);

        public void Dispose()
        {
            foreach (var t in new[] { _x, _w, _dy, _y, _dx, _dw }) t.Dispose();
        }
    }

    private static Tensor Random(Shape shape, ulong seed)
    {
        var values = new float[shape.Numel];
        var rng = new Rng(seed);
        for (int i = 0; i < values.Length; i++) values[i] = (float)rng.Uniform(-1, 1);
        return Tensor.FromArray<float>(values, shape, CpuBackend.Instance);
    }
}
