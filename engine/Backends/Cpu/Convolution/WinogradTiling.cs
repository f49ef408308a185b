using System.Runtime.Intrinsics;

namespace Vicreg.Engine.Backends.Cpu.Convolution;

/// <summary>
/// The 2x2 output tiles of a 3x3 stride-1 convolution, and the transforms between images and the 16
/// matrices of a block of tiles. Tiles are walked a tile row at a time: a unit u = n * TilesHigh + th is
/// tile row th of image n, and a block is a run of units [u0, u1) across images, so that late layers with
/// 4x4 outputs (2 tiles a row) still give the GEMMs hundreds of columns. Tile (u, tw) is column
/// (u - u0) * TilesWide + tw of every matrix of the block; a matrix row holds a block's tiles with a
/// stride of <see cref="Stride"/>, which leaves a vector of slack after the last tile so the transforms
/// can store whole vectors past a tile row's end (the next tile row, written later, overwrites them).
/// Partial tiles at the right and bottom edges (odd output sizes) read zero padding and drop the outputs
/// that fall outside.
/// </summary>
internal readonly unsafe struct WinogradTiling
{
    public readonly Conv2dGeometry Geometry;
    public readonly int TilesHigh, TilesWide;
    /// <summary>Elements per de-interleaved half row (even or odd columns): a tile row plus a vector of slack.</summary>
    public readonly int HalfRow;

    public WinogradTiling(in Conv2dGeometry g, int vector)
    {
        Geometry = g;
        TilesHigh = (g.OutHeight + 1) / 2;
        TilesWide = (g.OutWidth + 1) / 2;
        HalfRow = (TilesWide + 2 * vector - 1) / vector * vector;
    }

    public int Units => Geometry.Batch * TilesHigh;

    /// <summary>Tile rows per block: enough for about <paramref name="columns"/> tiles.</summary>
    public int UnitsPerBlock(int columns) => Math.Max(1, columns / TilesWide);

    /// <summary>Row stride of the block matrices for a block of <paramref name="columns"/> tiles.</summary>
    public static int Stride<T>(int columns) where T : unmanaged
        => (columns + Vector256<T>.Count - 1) / Vector256<T>.Count * Vector256<T>.Count + Vector256<T>.Count;

    /// <summary>Distance between consecutive matrices of a block holding <paramref name="elements"/> each: rounded
    /// to a cache line and skewed by one more, so that the 16 streams a transform reads or writes (one per
    /// matrix) fall in different cache sets even when a matrix is a multiple of 4 KiB (128 x 264 floats is).</summary>
    public static nint MatrixStride<T>(nint elements) where T : unmanaged
    {
        int line = 64 / sizeof(T);
        return (elements + line - 1) / line * line + line;
    }

    /// <summary>Elements of scratch <see cref="Input{T}"/> and <see cref="OutputGradient{T}"/> need for split rows.</summary>
    public long RowScratch(int unitsPerBlock) => (2L * Math.Min(unitsPerBlock, TilesHigh) + 2) * 2 * HalfRow;

    /// <summary>V[e][c][tile] = (B^T d B)[e] for the tiles of units [u0, u1) of <paramref name="x"/> [N, C, H, W];
    /// matrix e at <c>v + e * matrix</c>, rows <paramref name="ld"/> apart.</summary>
    public void Input<T>(T* x, int u0, int u1, T* rows, T* v, int ld, nint matrix) where T : unmanaged
    {
        ref readonly var g = ref Geometry;
        int vc = Vector256<T>.Count;
        nint plane = (nint)g.InHeight * g.InWidth;
        nint rowPair = 2 * HalfRow;
        for (int c = 0; c < g.InChannels; c++)
        {
            for (int u = u0; u < u1;)
            {
                int n = u / TilesHigh, th0 = u - n * TilesHigh, th1 = Math.Min(TilesHigh, th0 + (u1 - u));
                // Tile row th reads padded rows 2th..2th+3: split rows 2th0..2th1+1 once for the run.
                WinogradRows.Split(x + (n * (nint)g.InChannels + c) * plane, g.InHeight, g.InWidth, g.PadHeight, g.PadWidth,
                    2 * th0, 2 * (th1 - th0) + 2, TilesWide + 1, rows, HalfRow);
                for (int th = th0; th < th1; th++)
                {
                    T* r0 = rows + 2 * (th - th0) * rowPair;
                    T* r1 = r0 + rowPair, r2 = r1 + rowPair, r3 = r2 + rowPair;
                    T* dst = v + c * (nint)ld + (nint)(u - u0 + th - th0) * TilesWide;
                    for (int tw = 0; tw < TilesWide; tw += vc)
                        WinogradTransforms.Input(r0 + tw, r0 + HalfRow + tw, r1 + tw, r1 + HalfRow + tw,
                            r2 + tw, r2 + HalfRow + tw, r3 + tw, r3 + HalfRow + tw, dst + tw, matrix);
                }
                u += th1 - th0;
            }
        }
    }

    /// <summary>y[n, k] tiles of units [u0, u1) = A^T m A from M[e][k][tile] (matrix e at <c>m + e * matrix</c>),
    /// dropping outputs past the image's edge.</summary>
    public void Output<T>(T* m, int ld, nint matrix, int u0, int u1, T* y) where T : unmanaged
    {
        ref readonly var g = ref Geometry;
        int vc = Vector256<T>.Count, oh = g.OutHeight, ow = g.OutWidth;
        nint plane = (nint)oh * ow;
        for (int u = u0; u < u1; u++)
        {
            int n = u / TilesHigh, th = u - n * TilesHigh;
            bool secondRow = 2 * th + 1 < oh;
            T* src = m + (nint)(u - u0) * TilesWide;
            for (int k = 0; k < g.OutChannels; k++, src += ld)
            {
                T* row = y + (n * (nint)g.OutChannels + k) * plane + 2 * th * (nint)ow;
                for (int tw = 0; tw < TilesWide; tw += vc)
                {
                    WinogradTransforms.Output(src + tw, matrix, out var y00, out var y01, out var y10, out var y11);
                    int count = Math.Min(2 * vc, ow - 2 * tw);
                    WinogradRows.Merge(y00, y01, row + 2 * tw, count);
                    if (secondRow) WinogradRows.Merge(y10, y11, row + ow + 2 * tw, count);
                }
            }
        }
    }

    /// <summary>D[e][k][tile] = (A dy A^T)[e] for the tiles of units [u0, u1) of <paramref name="dy"/> [N, K, OH, OW]
    /// (outputs past the image's edge count as zero gradient); matrix e at <c>d + e * matrix</c>.</summary>
    public void OutputGradient<T>(T* dy, int u0, int u1, T* rows, T* d, int ld, nint matrix) where T : unmanaged
    {
        ref readonly var g = ref Geometry;
        int vc = Vector256<T>.Count;
        nint plane = (nint)g.OutHeight * g.OutWidth;
        nint rowPair = 2 * HalfRow;
        for (int k = 0; k < g.OutChannels; k++)
        {
            for (int u = u0; u < u1;)
            {
                int n = u / TilesHigh, th0 = u - n * TilesHigh, th1 = Math.Min(TilesHigh, th0 + (u1 - u));
                WinogradRows.Split(dy + (n * (nint)g.OutChannels + k) * plane, g.OutHeight, g.OutWidth, 0, 0,
                    2 * th0, 2 * (th1 - th0), TilesWide, rows, HalfRow);
                for (int th = th0; th < th1; th++)
                {
                    T* r0 = rows + 2 * (th - th0) * rowPair, r1 = r0 + rowPair;
                    T* dst = d + k * (nint)ld + (nint)(u - u0 + th - th0) * TilesWide;
                    for (int tw = 0; tw < TilesWide; tw += vc)
                        WinogradTransforms.OutputGradient(Vector256.Load(r0 + tw), Vector256.Load(r0 + HalfRow + tw),
                            Vector256.Load(r1 + tw), Vector256.Load(r1 + HalfRow + tw), dst + tw, matrix);
                }
                u += th1 - th0;
            }
        }
    }
}
