using System.Numerics;

namespace Vicreg.Engine.Backends.Cpu;

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
        int chunks = Math.Min(CpuParallel.ThreadCount, g.Batch);
        T* partials = chunks > 1 ? ThreadScratch.Get<T>(ScratchSlot.ConvPartialFilter, (chunks - 1) * filterSize) : null;
        var body = new ChunkBody<T> { Geometry = g, X = x, Dy = dy, Dweight = dweight, Partials = partials, Chunks = chunks };
        if (chunks > 1)
        {
            CpuParallel.For(chunks, ref body);
            var sum = new SumBody<T> { Dweight = dweight, Partials = partials, Parts = chunks - 1, Length = filterSize };
            int blocks = (int)Math.Min(CpuParallel.ThreadCount * 8L, (filterSize + 4095) / 4096);
            sum.Blocks = blocks;
            CpuParallel.For(blocks, ref sum);
        }
        else
        {
            body.ParallelGemm = true;
            body.Run(0, 1);
        }
    }

    private struct ChunkBody<T> : IRangeBody where T : unmanaged, INumberBase<T>
    {
        public Conv2dGeometry Geometry;
        public T* X, Dy, Dweight, Partials;
        public int Chunks;
        public bool ParallelGemm;

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
            int tile = Math.Clamp((TargetDepth + hw - 1) / hw, 1, Math.Max(1, n1 - n0));

            T* col = g.IsPointwise && tile == 1 ? null : ThreadScratch.Get<T>(ScratchSlot.ConvColumns, (long)crs * hw * tile);
            T* dyTile = tile > 1 ? ThreadScratch.Get<T>(ScratchSlot.ConvGradOutputTile, (long)k * hw * tile) : null;
            bool first = true;
            for (int n = n0; n < n1; n += tile)
            {
                int images = Math.Min(tile, n1 - n);
                nint depth = (nint)images * hw;
                T* a;
                if (images == 1)
                {
                    a = Dy + n * imageOut;
                }
                else
                {
                    // dY of the tile's images side by side: row c of the tile is [dy_n[c,:], dy_n+1[c,:], ...].
                    for (int i = 0; i < images; i++)
                    {
                        T* src = Dy + (n + i) * imageOut;
                        for (int c = 0; c < k; c++)
                            new ReadOnlySpan<T>(src + (nint)c * hw, hw).CopyTo(new Span<T>(dyTile + c * depth + (nint)i * hw, hw));
                    }
                    a = dyTile;
                }
                T* b = col;
                if (images == 1 && g.IsPointwise)
                {
                    b = X + n * imageIn; // a 1x1 stride-1 unpadded image already is its column matrix
                }
                else
                {
                    for (int i = 0; i < images; i++)
                    {
                        T* xn = X + (n + i) * imageIn;
                        if (g.IsPointwise)
                        {
                            for (int c = 0; c < crs; c++)
                                new ReadOnlySpan<T>(xn + (nint)c * hw, hw).CopyTo(new Span<T>(col + c * depth + (nint)i * hw, hw));
                        }
                        else
                        {
                            Im2Col.Lower(g, xn, col + (nint)i * hw, depth);
                        }
                    }
                }
                // target (+)= a [K x depth] · col^T, col being [CRS x depth].
                T beta = first ? T.Zero : T.One;
                if (ParallelGemm) GemmKernel.Run(false, true, k, crs, (int)depth, T.One, a, depth, b, depth, beta, target, crs);
                else GemmKernel.RunSerial(false, true, k, crs, (int)depth, T.One, a, depth, b, depth, beta, target, crs);
                first = false;
            }
        }
    }

    /// <summary>dW += partial_1 + partial_2 + ... in that order, over blocks of elements.</summary>
    private struct SumBody<T> : IRangeBody where T : unmanaged, INumberBase<T>
    {
        public T* Dweight, Partials;
        public int Parts, Blocks;
        public long Length;

        public void Run(int start, int end)
        {
            long from = Length * start / Blocks, to = Length * end / Blocks;
            for (int p = 0; p < Parts; p++)
            {
                T* partial = Partials + p * Length;
                for (long i = from; i < to; i++) Dweight[i] += partial[i];
            }
        }
    }
}
