using System.Numerics;
using Vicreg.Engine.Backends.Cpu.Gemm;

namespace Vicreg.Engine.Backends.Cpu.Convolution;

/// <summary>
/// dW = sum over images of dy_n · col(x_n)^T, overwriting dW. The batch is cut into one contiguous chunk
/// of images per thread; chunk 0 accumulates into dW itself, chunk t into its own partial buffer, and the
/// partials are added to dW in chunk order, so the result depends only on the batch and the thread count.
/// Within a chunk, images with small outputs (HW below a GEMM depth block) are grouped into tiles placed
/// side by side along the reduction dimension, so each GEMM has depth ~256 rather than, say, 16.
/// </summary>
internal static unsafe class ConvolutionBackwardFilter
{
    /// <summary>Aim for at least this GEMM depth (pixels x images) per product.</summary>
    private const int TargetDepth = 256;

    public static void Run<T>(in Conv2dGeometry g, T* x, T* dy, T* dweight) where T : unmanaged, INumberBase<T>
    {
        int k = g.OutChannels, crs = g.InChannels * g.KernelHeight * g.KernelWidth, hw = g.OutHeight * g.OutWidth;
        long filterSize = (long)k * crs;
        if (filterSize == 0) return;
        if (g.Batch == 0 || hw == 0)
        {
            new Span<T>(dweight, checked((int)filterSize)).Clear();
            return;
        }
        if (SingleChannelConvolution.Use<T>(g))
        {
            SingleChannelConvolution.BackwardFilter(g, (float*)x, (float*)dy, (float*)dweight);
            return;
        }
        if (WinogradPolicy.Use<T>(g))
        {
            WinogradBackwardFilter.Run(g, x, dy, dweight);
            return;
        }
        int chunks = Math.Min(CpuParallel.ThreadCount, g.Batch);
        T* partials = FilterPartials.Scratch<T>(chunks, filterSize);
        var body = new ChunkBody<T> { Geometry = g, X = x, Dy = dy, Dweight = dweight, Partials = partials, Chunks = chunks };
        ConvolutionThreads.Run(chunks, chunks > 1, ref body);
        if (chunks > 1) FilterPartials.AddInOrder(dweight, partials, chunks - 1, filterSize);
    }

    private struct ChunkBody<T> : IConvolutionBody where T : unmanaged, INumberBase<T>
    {
        public Conv2dGeometry Geometry;
        public T* X, Dy, Dweight, Partials;
        public int Chunks;
        public bool ParallelGemm { get; set; }

        public void Run(int start, int end)
        {
            for (int t = start; t < end; t++) RunChunk(t);
        }

        private void RunChunk(int chunk)
        {
            ref readonly var g = ref Geometry;
            int k = g.OutChannels, crs = g.InChannels * g.KernelHeight * g.KernelWidth, hw = g.OutHeight * g.OutWidth;
            nint imageIn = (nint)g.InChannels * g.InHeight * g.InWidth, imageOut = (nint)k * hw;
            int n0 = CpuParallel.ChunkStart(chunk, g.Batch, Chunks), n1 = CpuParallel.ChunkEnd(chunk, g.Batch, Chunks);
            T* target = chunk == 0 ? Dweight : Partials + (chunk - 1) * (nint)k * crs;
            int tile = ImageTile.ImagesPerTile(hw, TargetDepth, n1 - n0);

            var plan = Im2Col.Plan(g, tile);
            var bands = plan.Bands;
            T* col = plan.ColumnElements > 0 ? ThreadScratch.Get<T>(ScratchSlot.ConvColumns, plan.ColumnElements) : null;
            T* dyTile = tile > 1 ? ThreadScratch.Get<T>(ScratchSlot.ConvGradOutputTile, (long)k * hw * tile) : null;
            bool first = true;
            for (int n = n0; n < n1; n += tile)
            {
                int images = Math.Min(tile, n1 - n);
                nint depth = (nint)images * hw;
                if (plan.Banded)
                {
                    // A large image a band of output rows at a time: target (+)= dy_n[:, band] · col(band)^T.
                    for (int band = 0; band < bands.Count; band++)
                    {
                        int oh0 = bands.Start(band), oh1 = bands.Start(band + 1), pixels = (oh1 - oh0) * g.OutWidth;
                        Im2Col.Lower(g, X + n * imageIn, oh0, oh1, col, pixels);
                        Multiply(k, crs, pixels, Dy + n * imageOut + (nint)oh0 * g.OutWidth, hw, col, pixels, first, target);
                        first = false;
                    }
                    continue;
                }
                T* a;
                if (images == 1)
                {
                    a = Dy + n * imageOut;
                }
                else
                {
                    ImageTile.Gather(Dy + n * imageOut, imageOut, images, k, hw, dyTile);
                    a = dyTile;
                }
                T* b = col;
                if (images == 1 && g.IsPointwise)
                {
                    b = X + n * imageIn; // a 1x1 stride-1 unpadded image already is its column matrix
                }
                else
                {
                    if (g.IsPointwise) ImageTile.Gather(X + n * imageIn, imageIn, images, crs, hw, col);
                    else
                        for (int i = 0; i < images; i++) Im2Col.Lower(g, X + (n + i) * imageIn, col + (nint)i * hw, depth);
                }
                Multiply(k, crs, (int)depth, a, depth, b, depth, first, target);
                first = false;
            }
        }

        /// <summary>target (+)= a [K x depth] · b^T, b being [CRS x depth]; the first product overwrites.</summary>
        private readonly void Multiply(int k, int crs, int depth, T* a, nint lda, T* b, nint ldb, bool first, T* target)
        {
            T beta = first ? T.Zero : T.One;
            if (ParallelGemm) GemmKernel.Run(false, true, k, crs, depth, T.One, a, lda, b, ldb, beta, target, crs);
            else GemmKernel.RunSerial(false, true, k, crs, depth, T.One, a, lda, b, ldb, beta, target, crs);
        }
    }
}
