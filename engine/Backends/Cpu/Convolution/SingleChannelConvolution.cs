using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Vicreg.Engine.Backends.Cpu.Gemm;

namespace Vicreg.Engine.Backends.Cpu.Convolution;

/// <summary>
/// A 3x3 stride-1 float convolution of a single-channel image (the quickstart's grayscale stem), forward and
/// weight gradient, computed directly instead of through im2col: a GEMM of depth 9 spends more on lowering
/// and packing than on its few multiplies, and Winograd's transforms cost more than the 9 products of one
/// channel. Each image is copied into a zero-padded plane in the thread's scratch, so every tap of a vector
/// of eight outputs is one unaligned load at a fixed offset.
/// <para>Forward: a row of outputs a vector at a time, its nine input vectors held in registers against every
/// output channel's nine broadcast weights. A row whose width is not a multiple of eight ends with a vector
/// that overlaps the previous one (the same values written twice). Images are split over threads, each
/// output from the same operations whatever the split, so results are bit-identical for any thread count.</para>
/// <para>Weight gradient: dW[k][r][s] = Σ dy[k][oh][ow] x[oh + r - pad][ow + s - pad], nine vector
/// accumulators per output channel, the overlapping last vector of a row masked to the columns not yet
/// counted. The batch is cut into one chunk per thread and the chunks' sums added in chunk order
/// (<see cref="FilterPartials"/>), as <see cref="ConvolutionBackwardFilter"/> does.</para>
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

    public static void BackwardFilter(in Conv2dGeometry g, float* x, float* dy, float* dweight)
    {
        int chunks = Math.Min(CpuParallel.ThreadCount, g.Batch);
        long filterSize = (long)g.OutChannels * Taps;
        float* partials = FilterPartials.Scratch<float>(chunks, filterSize);
        var body = new FilterBody { Geometry = g, X = x, Dy = dy, Dweight = dweight, Partials = partials, Chunks = chunks };
        CpuParallel.For(chunks, ref body);
        if (chunks > 1) FilterPartials.AddInOrder(dweight, partials, chunks - 1, filterSize);
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

    private struct FilterBody : IRangeBody
    {
        public Conv2dGeometry Geometry;
        public float* X, Dy, Dweight, Partials;
        public int Chunks;

        public readonly void Run(int start, int end)
        {
            for (int chunk = start; chunk < end; chunk++) RunChunk(chunk);
        }

        private readonly void RunChunk(int chunk)
        {
            ref readonly var g = ref Geometry;
            int width = PaddedWidth(g), ow = g.OutWidth, vectors = (ow + Lanes - 1) / Lanes, k = g.OutChannels;
            nint plane = (nint)g.OutHeight * ow;
            int n0 = CpuParallel.ChunkStart(chunk, g.Batch, Chunks), n1 = CpuParallel.ChunkEnd(chunk, g.Batch, Chunks);
            float* padded = ThreadScratch.Get<float>(ScratchSlot.ConvColumns, PaddedSize(g));
            // Nine vector accumulators per output channel, summed across lanes once the chunk is done.
            float* sums = ThreadScratch.Get<float>(ScratchSlot.ConvGradOutputTile, (long)k * Taps * Lanes);
            new Span<float>(sums, k * Taps * Lanes).Clear();
            // The last vector of a row overlaps the one before: only its lanes past that one's end count.
            int overlap = vectors * Lanes - ow;
            var tail = Vector256.GreaterThanOrEqual(Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7), Vector256.Create(overlap)).AsSingle();
            for (int n = n0; n < n1; n++)
            {
                Pad(g, X, n, padded);
                float* image = Dy + n * plane * k;
                for (int kk = 0; kk < k; kk++)
                {
                    float* acc = sums + (nint)kk * Taps * Lanes;
                    var s0 = Vector256.Load(acc); var s1 = Vector256.Load(acc + 8); var s2 = Vector256.Load(acc + 16);
                    var s3 = Vector256.Load(acc + 24); var s4 = Vector256.Load(acc + 32); var s5 = Vector256.Load(acc + 40);
                    var s6 = Vector256.Load(acc + 48); var s7 = Vector256.Load(acc + 56); var s8 = Vector256.Load(acc + 64);
                    float* dyPlane = image + kk * plane;
                    for (int oh = 0; oh < g.OutHeight; oh++)
                        for (int v = 0; v < vectors; v++)
                        {
                            int column = VectorStart(v, ow);
                            var d = Vector256.Load(dyPlane + (nint)oh * ow + column);
                            if (v == vectors - 1) d &= tail;
                            float* p = padded + (nint)oh * width + column;
                            s0 = Fma.MultiplyAdd(d, Vector256.Load(p), s0);
                            s1 = Fma.MultiplyAdd(d, Vector256.Load(p + 1), s1);
                            s2 = Fma.MultiplyAdd(d, Vector256.Load(p + 2), s2);
                            p += width;
                            s3 = Fma.MultiplyAdd(d, Vector256.Load(p), s3);
                            s4 = Fma.MultiplyAdd(d, Vector256.Load(p + 1), s4);
                            s5 = Fma.MultiplyAdd(d, Vector256.Load(p + 2), s5);
                            p += width;
                            s6 = Fma.MultiplyAdd(d, Vector256.Load(p), s6);
                            s7 = Fma.MultiplyAdd(d, Vector256.Load(p + 1), s7);
                            s8 = Fma.MultiplyAdd(d, Vector256.Load(p + 2), s8);
                        }
                    s0.Store(acc); s1.Store(acc + 8); s2.Store(acc + 16);
                    s3.Store(acc + 24); s4.Store(acc + 32); s5.Store(acc + 40);
                    s6.Store(acc + 48); s7.Store(acc + 56); s8.Store(acc + 64);
                }
            }
            float* target = chunk == 0 ? Dweight : Partials + (nint)(chunk - 1) * k * Taps;
            for (int i = 0; i < k * Taps; i++) target[i] = Vector256.Sum(Vector256.Load(sums + (nint)i * Lanes));
        }
    }
}
