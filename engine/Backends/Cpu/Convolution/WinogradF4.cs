using System.Runtime.Intrinsics;
using Vicreg.Engine.Backends.Cpu.Gemm;

namespace Vicreg.Engine.Backends.Cpu.Convolution;

/// <summary>
/// A 3x3 stride-1 float convolution (and its backward-data, as in <see cref="WinogradForward"/>) as
/// Winograd F(4x4, 3x3) (<see cref="WinogradF4Transforms"/>): the 36 transformed filters U[e] [K x C] are
/// computed and packed once per call; then, block by block of 4x4 output tiles, V^T[e] [tiles x C] from
/// the input, M[e] = U[e] · V[e] (36 GEMMs of the packed U, V^T entering transposed), and the output
/// transform into y. A unit is a row of tiles of one image (u = n * TilesHigh + th), a block a run of
/// units, as in <see cref="WinogradTiling"/>.
/// <para>The input transform runs eight channels at a time (<see cref="WinogradF4Tiling"/>). The output
/// transform runs eight tiles at a time (a lane each) along a row of M, and two 8x8 transposes turn the
/// sixteen outputs by eight tiles into each tile's 4x4 block. Narrow layers (<see cref="WinogradNarrowProducts.Applies"/>)
/// compute the products without the GEMM, tile-major, and their output transform runs eight channels of a tile
/// at a time instead.</para>
/// <para>Partial tiles at the right and bottom edges read zero padding and drop the outputs past the edge.
/// Every output comes from the same operations whatever the split of units over threads, so results are
/// bit-identical for any thread count.</para>
/// </summary>
internal static unsafe class WinogradF4
{
    private const int Lanes = 8;

    public static void Forward(in Conv2dGeometry g, float* x, float* weight, float* y) => Run(g, x, weight, flipped: false, y);

    /// <summary>dx from dy for the forward convolution <paramref name="g"/>.</summary>
    public static void BackwardData(in Conv2dGeometry g, float* dy, float* weight, float* dx)
    {
        var transposed = new Conv2dGeometry(g.Batch, g.OutChannels, g.OutHeight, g.OutWidth, g.InChannels, 3, 3, 1, 1,
            2 - g.PadHeight, 2 - g.PadWidth);
        Run(transposed, dy, weight, flipped: true, dx);
    }

    private static void Run(in Conv2dGeometry g, float* x, float* weight, bool flipped, float* y)
    {
        int k = g.OutChannels, c = g.InChannels;
        const int elements = WinogradF4Transforms.Elements;
        float* u = ThreadScratch.Get<float>(ScratchSlot.WinogradFilter, (long)elements * k * c);
        WinogradFilters.Transform(weight, k, c, flipped, u, new WinogradFilters.F4x4());
        bool narrow = WinogradNarrowProducts.Applies(c, k);
        long packedSize = narrow ? (long)k * c : WinogradFilters.PackedSize<float>(k, c);
        float* packed = ThreadScratch.Get<float>(ScratchSlot.ConvPackedWeight, elements * packedSize);
        if (narrow) WinogradNarrowProducts.Transpose(u, k, c, elements, packed);
        else WinogradFilters.Pack(u, k, c, elements, packed);

        var body = new BlockBody { Tiling = new WinogradF4Tiling(g), X = x, Y = y, Packed = packed, PackedSize = packedSize, Narrow = narrow };
        ConvolutionThreads.Run(g.Batch * body.Tiling.TilesHigh, ref body);
    }

    private struct BlockBody : IConvolutionBody
    {
        public WinogradF4Tiling Tiling;
        public float* X, Y, Packed;
        public long PackedSize;
        /// <summary>The products through <see cref="WinogradNarrowProducts"/> (Packed then holds U^T[e] [C x K]) into
        /// M^T[e] [tiles x K], rather than GEMMs of the packed U into M[e] [K x tiles].</summary>
        public bool Narrow;
        public bool ParallelGemm { get; set; }

        private readonly int TilesHigh => Tiling.TilesHigh;
        private readonly int TilesWide => Tiling.TilesWide;

        public readonly void Run(int start, int end)
        {
            ref readonly var g = ref Tiling.Geometry;
            int k = g.OutChannels, c = g.InChannels;
            int unitsPerBlock = Math.Min(Math.Max(1, WinogradForward.TargetColumns / TilesWide), end - start);
            int maxColumns = unitsPerBlock * TilesWide;
            int ld = WinogradTiling.Stride<float>(maxColumns);
            int ldV = WinogradSmallImages.Stride(c);
            nint vMatrix = WinogradTiling.MatrixStride<float>((nint)maxColumns * ldV);
            nint mMatrix = WinogradTiling.MatrixStride<float>(Narrow ? (nint)maxColumns * k : (nint)k * ld);
            float* pixels = ThreadScratch.Get<float>(ScratchSlot.WinogradRows, Tiling.PixelsSize(unitsPerBlock));
            float* v = ThreadScratch.Get<float>(ScratchSlot.WinogradInput, WinogradF4Transforms.Elements * vMatrix);
            float* m = ThreadScratch.Get<float>(ScratchSlot.WinogradProduct, WinogradF4Transforms.Elements * mMatrix);
            float* tmp = stackalloc float[WinogradF4Transforms.Scratch];
            for (int u0 = start; u0 < end; u0 += unitsPerBlock)
            {
                int u1 = Math.Min(end, u0 + unitsPerBlock), columns = (u1 - u0) * TilesWide;
                Tiling.Input(X, u0, u1, pixels, v, ldV, vMatrix, tmp);
                if (Narrow)
                {
                    for (int e = 0; e < WinogradF4Transforms.Elements; e++)
                        WinogradNarrowProducts.Multiply(Packed + e * PackedSize, c, k, v + e * vMatrix, ldV, columns, m + e * mMatrix, k);
                    OutputTransposed(m, mMatrix, u0, columns, tmp);
                    continue;
                }
                for (int e = 0; e < WinogradF4Transforms.Elements; e++)
                    GemmKernel.RunPackedA(k, columns, c, Packed + e * PackedSize, true, v + e * vMatrix, ldV, default,
                        m + e * mMatrix, ld, ParallelGemm);
                Output(m, ld, mMatrix, u0, columns, tmp);
            }
        }

        /// <summary>y tiles of the block's <paramref name="columns"/> tiles (from unit u0) = A^T m A, from M[e][k][tile]
        /// (matrix e at <c>m + e * matrix</c>), dropping outputs past the image's edge.</summary>
        private readonly void Output(float* m, int ld, nint matrix, int u0, int columns, float* tmp)
        {
            ref readonly var g = ref Tiling.Geometry;
            int oh = g.OutHeight, ow = g.OutWidth;
            nint plane = (nint)oh * ow;
            float* outputs = stackalloc float[16 * Lanes];
            float* blocks = stackalloc float[16 * Lanes];
            nint* offset = stackalloc nint[Lanes];
            int* rows = stackalloc int[Lanes];
            int* cols = stackalloc int[Lanes];
            for (int t0 = 0; t0 < columns; t0 += Lanes)
            {
                int lanes = Math.Min(Lanes, columns - t0);
                for (int l = 0; l < lanes; l++)
                {
                    int t = t0 + l, unit = u0 + t / TilesWide, tw = t % TilesWide;
                    int n = unit / TilesHigh, th = unit - n * TilesHigh;
                    offset[l] = n * (nint)g.OutChannels * plane + (nint)4 * th * ow + 4 * tw;
                    rows[l] = Math.Min(4, oh - 4 * th);
                    cols[l] = Math.Min(4, ow - 4 * tw);
                }
                for (int k = 0; k < g.OutChannels; k++)
                {
                    WinogradF4Transforms.Output(m + (nint)k * ld + t0, matrix, outputs, tmp);
                    TransposeOutputs(outputs, blocks);
                    nint channel = k * plane;
                    for (int l = 0; l < lanes; l++) StoreTile(blocks + 16 * l, Y + offset[l] + channel, rows[l], cols[l], ow);
                }
            }
        }

        /// <summary>y tiles of the block's <paramref name="columns"/> tiles (from unit u0) = A^T m A, from M^T[e][tile][k]
        /// (matrix e at <c>mt + e * matrix</c>, rows K apart): per tile, eight output channels at a time (a lane each),
        /// two 8x8 transposes turning the sixteen outputs by eight channels into each channel's 4x4 block.</summary>
        private readonly void OutputTransposed(float* mt, nint matrix, int u0, int columns, float* tmp)
        {
            ref readonly var g = ref Tiling.Geometry;
            int oh = g.OutHeight, ow = g.OutWidth, k = g.OutChannels;
            nint plane = (nint)oh * ow;
            float* outputs = stackalloc float[16 * Lanes];
            float* blocks = stackalloc float[16 * Lanes];
            for (int t = 0; t < columns; t++)
            {
                int unit = u0 + t / TilesWide, tw = t % TilesWide;
                int n = unit / TilesHigh, th = unit - n * TilesHigh;
                float* tile = Y + n * (nint)k * plane + (nint)4 * th * ow + 4 * tw;
                int rows = Math.Min(4, oh - 4 * th), cols = Math.Min(4, ow - 4 * tw);
                for (int k0 = 0; k0 < k; k0 += Lanes)
                {
                    WinogradF4Transforms.Output(mt + (nint)t * k + k0, matrix, outputs, tmp);
                    TransposeOutputs(outputs, blocks);
                    for (int l = 0; l < Lanes; l++) StoreTile(blocks + 16 * l, tile + (k0 + l) * plane, rows, cols, ow);
                }
            }
        }
    }

    /// <summary>outputs[(4p + q)][lane] -> blocks[lane][4p + q]: two 8x8 transposes (rows 0-1, rows 2-3).</summary>
    private static void TransposeOutputs(float* outputs, float* blocks)
    {
        for (int half = 0; half < 2; half++)
        {
            float* o = outputs + half * 8 * Lanes;
            var a0 = Vector256.Load(o); var a1 = Vector256.Load(o + 8); var a2 = Vector256.Load(o + 16); var a3 = Vector256.Load(o + 24);
            var a4 = Vector256.Load(o + 32); var a5 = Vector256.Load(o + 40); var a6 = Vector256.Load(o + 48); var a7 = Vector256.Load(o + 56);
            VectorTranspose.Transpose8x8(ref a0, ref a1, ref a2, ref a3, ref a4, ref a5, ref a6, ref a7);
            float* b = blocks + half * 8;
            a0.Store(b); a1.Store(b + 16); a2.Store(b + 32); a3.Store(b + 48);
            a4.Store(b + 64); a5.Store(b + 80); a6.Store(b + 96); a7.Store(b + 112);
        }
    }

    /// <summary>A tile's 4x4 outputs <paramref name="block"/> (row-major) into y at <paramref name="dst"/>, keeping the
    /// <paramref name="rows"/> x <paramref name="cols"/> inside the image.</summary>
    private static void StoreTile(float* block, float* dst, int rows, int cols, int ow)
    {
        if (rows == 4 && cols == 4)
        {
            Vector128.Load(block).Store(dst);
            Vector128.Load(block + 4).Store(dst + ow);
            Vector128.Load(block + 8).Store(dst + 2 * ow);
            Vector128.Load(block + 12).Store(dst + 3 * ow);
            return;
        }
        for (int p = 0; p < rows; p++)
            for (int q = 0; q < cols; q++) dst[p * ow + q] = block[4 * p + q];
    }
}
