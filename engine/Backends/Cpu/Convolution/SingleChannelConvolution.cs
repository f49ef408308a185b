using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Vicreg.Engine.Backends.Cpu.Gemm;

namespace Vicreg.Engine.Backends.Cpu.Convolution;

/// <summary>
/// The forward pass of a 3x3 stride-1 float convolution of a single-channel image (the quickstart's grayscale
/// stem), computed directly instead of through im2col: a GEMM of depth 9 spends more on lowering and packing
/// than on its few multiplies, and Winograd's transforms cost more than the 9 products of one channel. Each
/// image is copied into a zero-padded plane in the thread's scratch, so every tap of a vector of eight outputs
/// is one unaligned load at a fixed offset; a row of outputs goes a vector at a time, its nine input vectors
/// held in registers against every output channel's nine broadcast weights. A row whose width is not a
/// multiple of eight ends with a vector that overlaps the previous one (the same values written twice).
/// Images are split over threads, each output from the same operations whatever the split, so results are
/// bit-identical for any thread count. (The weight gradient stays on im2col: a direct one ran 4x faster on
/// the stem but, summing in another order, moved the two-rank Barlow Twins parity test past its tolerance.)
/// </summary>
internal static unsafe class SingleChannelConvolution
{
    private const int Lanes = 8;
    private const int Taps = 9;

    /// <summary>Whether <paramref name="g"/> on element type <typeparamref name="T"/> goes through this kernel:
    /// float with AVX2 and FMA, one input channel, a 3x3 stride-1 kernel, rows of at least a vector, in
    /// <see cref="WinogradMode.Auto"/> (the other modes test the im2col and Winograd paths).</summary>
    public static bool Use<T>(in Conv2dGeometry g) where T : unmanaged
        => typeof(T) == typeof(float) && Avx2.IsSupported && Fma.IsSupported && WinogradPolicy.Forced == WinogradMode.Auto
           && g.InChannels == 1 && g.KernelHeight == 3 && g.KernelWidth == 3 && g.StrideHeight == 1 && g.StrideWidth == 1
           && g.OutWidth >= Lanes && g.OutHeight > 0 && g.OutChannels > 0 && g.Batch > 0;

    public static void Forward(in Conv2dGeometry g, float* x, float* weight, float* y)
    {
        // Every output channel's nine weights, each broadcast to a vector: read as memory operands of the FMAs.
        float* broadcast = ThreadScratch.Get<float>(ScratchSlot.ConvPackedWeight, (long)g.OutChannels * Taps * Lanes);
        for (int i = 0; i < g.OutChannels * Taps; i++) Vector256.Create(weight[i]).Store(broadcast + (nint)i * Lanes);
        var body = new ForwardBody { Geometry = g, X = x, Y = y, Weights = broadcast };
        CpuParallel.For(g.Batch, ref body);
    }

    /// <summary>Columns of the zero-padded plane.</summary>
    private static int PaddedWidth(in Conv2dGeometry g) => g.InWidth + 2 * g.PadWidth;

    /// <summary>Floats of the zero-padded plane: OutHeight + 2 = InHeight + 2 PadHeight rows.</summary>
    private static long PaddedSize(in Conv2dGeometry g) => (long)(g.OutHeight + 2) * PaddedWidth(g);

    /// <summary>Image <paramref name="n"/> of <paramref name="x"/> into <paramref name="padded"/>: row oh + r of the
    /// plane is image row oh + r - padHeight, column ow + s image column ow + s - padWidth, zero outside the image.</summary>
    private static void Pad(in Conv2dGeometry g, float* x, int n, float* padded)
    {
        int width = PaddedWidth(g);
        new Span<float>(padded, checked((int)PaddedSize(g))).Clear();
        float* image = x + (nint)n * g.InHeight * g.InWidth;
        for (int h = 0; h < g.InHeight; h++)
            new ReadOnlySpan<float>(image + (nint)h * g.InWidth, g.InWidth)
                .CopyTo(new Span<float>(padded + (nint)(h + g.PadHeight) * width + g.PadWidth, g.InWidth));
    }

    /// <summary>The first column of vector <paramref name="v"/> of a row <paramref name="outWidth"/> wide: eight
    /// apart, the last one ending at the row's end.</summary>
    private static int VectorStart(int v, int outWidth) => Math.Min(v * Lanes, outWidth - Lanes);

    private struct ForwardBody : IRangeBody
    {
        public Conv2dGeometry Geometry;
        public float* X, Y, Weights;

        public readonly void Run(int start, int end)
        {
            ref readonly var g = ref Geometry;
            int width = PaddedWidth(g), ow = g.OutWidth, vectors = (ow + Lanes - 1) / Lanes;
            nint plane = (nint)g.OutHeight * ow;
            float* padded = ThreadScratch.Get<float>(ScratchSlot.ConvColumns, PaddedSize(g));
            for (int n = start; n < end; n++)
            {
                Pad(g, X, n, padded);
                float* image = Y + n * plane * g.OutChannels;
                for (int oh = 0; oh < g.OutHeight; oh++)
                    for (int v = 0; v < vectors; v++)
                    {
                        int column = VectorStart(v, ow);
                        float* p = padded + (nint)oh * width + column;
                        var x0 = Vector256.Load(p); var x1 = Vector256.Load(p + 1); var x2 = Vector256.Load(p + 2);
                        p += width;
                        var x3 = Vector256.Load(p); var x4 = Vector256.Load(p + 1); var x5 = Vector256.Load(p + 2);
                        p += width;
                        var x6 = Vector256.Load(p); var x7 = Vector256.Load(p + 1); var x8 = Vector256.Load(p + 2);
                        float* w = Weights;
                        float* dst = image + (nint)oh * ow + column;
                        for (int k = 0; k < g.OutChannels; k++, w += Taps * Lanes, dst += plane)
                        {
                            var sum = x0 * Vector256.Load(w);
                            sum = Fma.MultiplyAdd(x1, Vector256.Load(w + 8), sum);
                            sum = Fma.MultiplyAdd(x2, Vector256.Load(w + 16), sum);
                            sum = Fma.MultiplyAdd(x3, Vector256.Load(w + 24), sum);
                            sum = Fma.MultiplyAdd(x4, Vector256.Load(w + 32), sum);
                            sum = Fma.MultiplyAdd(x5, Vector256.Load(w + 40), sum);
                            sum = Fma.MultiplyAdd(x6, Vector256.Load(w + 48), sum);
                            sum = Fma.MultiplyAdd(x7, Vector256.Load(w + 56), sum);
                            sum = Fma.MultiplyAdd(x8, Vector256.Load(w + 64), sum);
                            sum.Store(dst);
                        }
                    }
            }
        }
    }
}
