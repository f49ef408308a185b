using System.Runtime.Intrinsics.X86;
using System.Runtime.Intrinsics;
using Vicreg.Engine.Backends.Cpu.Gemm;

namespace Vicreg.Engine.Backends.Cpu.Convolution;

/// <summary>
/// The input transform for small images (a tile row no longer than a vector: 16x16, 8x8 and 4x4 outputs),
/// vectorized over channels instead of tiles. Along a tile row such images fill at most one vector (a
/// quarter of one at 4x4) and pay a row split per handful of tiles; instead, eight channels' planes go through 8x8 register
/// transposes into a pixel-major buffer (a vector of eight channels per pixel, and a zero vector for the
/// padding), from which every tile's 16 elements are whole-vector loads. The result is V transposed,
/// V^T[e] [tiles x C] (a row per tile, C contiguous), which the GEMMs take as a transposed operand. The
/// weight gradient's transformed output gradients D^T[e] [tiles x K] are made the same way.
/// </summary>
internal static unsafe class WinogradSmallImages
{
    private const int Lanes = 8;

    /// <summary>Whether this layout applies: float with AVX2, a tile row no longer than a vector, and few
    /// enough tiles an image that their pixel indices fit a small table. (Measured at batch 64: at 16x16
    /// outputs, 8 tiles a row, it beats the row layout by a few per cent; at 32x32 the two are even.)</summary>
    public static bool Applies<T>(in WinogradTiling tiling) where T : unmanaged
        => typeof(T) == typeof(float) && Avx2.IsSupported && tiling.TilesWide <= Lanes && tiling.TilesHigh * tiling.TilesWide <= MaxTiles;

    private const int MaxTiles = 64;

    /// <summary>Row stride of V^T: the channels, rounded up to whole vectors (a partial vector's spare lanes
    /// land in the padding).</summary>
    public static int Stride(int channels) => (channels + Lanes - 1) / Lanes * Lanes;

    /// <summary>Elements of scratch <see cref="Input"/> and <see cref="OutputGradient"/> need: the pixel-major
    /// buffer with its zero vector.</summary>
    public static long Scratch(in Conv2dGeometry g)
        => ((long)Math.Max(g.InHeight * g.InWidth, g.OutHeight * g.OutWidth) + 1) * Lanes;

    /// <summary>V^T[e][tile][c] = (B^T d B)[e] for the tiles of units [u0, u1) of <paramref name="x"/> [N, C, H, W];
    /// matrix e at <c>vt + e * matrix</c>, rows (tiles) <paramref name="ld"/> apart.</summary>
    public static void Input(in WinogradTiling tiling, float* x, int u0, int u1, float* pixels, float* vt, int ld, nint matrix)
    {
        ref readonly var g = ref tiling.Geometry;
        int tw = tiling.TilesWide, hw = g.InHeight * g.InWidth;
        int* index = stackalloc int[MaxTiles * WinogradTransforms.Elements];
        Vector256<float>.Zero.Store(pixels + (nint)hw * Lanes);
        for (int u = u0; u < u1;)
        {
            int n = u / tiling.TilesHigh, th0 = u - n * tiling.TilesHigh, th1 = Math.Min(tiling.TilesHigh, th0 + (u1 - u));
            int tiles = (th1 - th0) * tw;
            // Each tile element's pixel (or the zero vector past the image's edge), once per image.
            for (int t = 0; t < tiles; t++)
            {
                int row = 2 * (th0 + t / tw) - g.PadHeight, column = 2 * (t % tw) - g.PadWidth;
                for (int i = 0; i < 4; i++)
                    for (int j = 0; j < 4; j++)
                    {
                        int r = row + i, s = column + j;
                        index[t * 16 + i * 4 + j] = ((uint)r < (uint)g.InHeight && (uint)s < (uint)g.InWidth ? r * g.InWidth + s : hw) * Lanes;
                    }
            }
            float* image = x + (nint)n * g.InChannels * hw;
            float* first = vt + (nint)(u - u0) * tw * ld;
            for (int c0 = 0; c0 < g.InChannels; c0 += Lanes)
            {
                Gather(image + (nint)c0 * hw, hw, hw, Math.Min(Lanes, g.InChannels - c0), pixels);
                for (int t = 0; t < tiles; t++)
                {
                    int* e = index + t * 16;
                    float* p = pixels;
                    WinogradTransforms.Input(
                        Vector256.Load(p + e[0]), Vector256.Load(p + e[1]), Vector256.Load(p + e[2]), Vector256.Load(p + e[3]),
                        Vector256.Load(p + e[4]), Vector256.Load(p + e[5]), Vector256.Load(p + e[6]), Vector256.Load(p + e[7]),
                        Vector256.Load(p + e[8]), Vector256.Load(p + e[9]), Vector256.Load(p + e[10]), Vector256.Load(p + e[11]),
                        Vector256.Load(p + e[12]), Vector256.Load(p + e[13]), Vector256.Load(p + e[14]), Vector256.Load(p + e[15]),
                        first + (nint)t * ld + c0, matrix);
                }
            }
            u += th1 - th0;
        }
    }

    /// <summary>D^T[e][tile][k] = (A dy A^T)[e] for the tiles of units [u0, u1) of <paramref name="dy"/> [N, K, OH, OW]
    /// (outputs past the image's edge count as zero); matrix e at <c>dt + e * matrix</c>, rows <paramref name="ld"/> apart.</summary>
    public static void OutputGradient(in WinogradTiling tiling, float* dy, int u0, int u1, float* pixels, float* dt, int ld, nint matrix)
    {
        ref readonly var g = ref tiling.Geometry;
        int tw = tiling.TilesWide, hw = g.OutHeight * g.OutWidth;
        int* index = stackalloc int[MaxTiles * 4];
        Vector256<float>.Zero.Store(pixels + (nint)hw * Lanes);
        for (int u = u0; u < u1;)
        {
            int n = u / tiling.TilesHigh, th0 = u - n * tiling.TilesHigh, th1 = Math.Min(tiling.TilesHigh, th0 + (u1 - u));
            int tiles = (th1 - th0) * tw;
            for (int t = 0; t < tiles; t++)
            {
                int row = 2 * (th0 + t / tw), column = 2 * (t % tw);
                for (int a = 0; a < 2; a++)
                    for (int b = 0; b < 2; b++)
                        index[t * 4 + a * 2 + b] = (row + a < g.OutHeight && column + b < g.OutWidth ? (row + a) * g.OutWidth + column + b : hw) * Lanes;
            }
            float* image = dy + (nint)n * g.OutChannels * hw;
            float* first = dt + (nint)(u - u0) * tw * ld;
            for (int k0 = 0; k0 < g.OutChannels; k0 += Lanes)
            {
                Gather(image + (nint)k0 * hw, hw, hw, Math.Min(Lanes, g.OutChannels - k0), pixels);
                for (int t = 0; t < tiles; t++)
                {
                    int* e = index + t * 4;
                    WinogradTransforms.OutputGradient(Vector256.Load(pixels + e[0]), Vector256.Load(pixels + e[1]),
                        Vector256.Load(pixels + e[2]), Vector256.Load(pixels + e[3]), first + (nint)t * ld + k0, matrix);
                }
            }
            u += th1 - th0;
        }
    }

    /// <summary>pixels[p][l] = plane l's pixel p for the first <paramref name="pixelCount"/> pixels of
    /// <paramref name="count"/> planes <paramref name="planeStride"/> floats apart (lanes past the count zero):
    /// 8x8 transposes where all 8 lanes are planes, element by element at the tail.</summary>
    internal static void Gather(float* planes, nint planeStride, int pixelCount, int count, float* pixels)
    {
        int p = 0;
        if (count == Lanes)
        {
            for (; p + Lanes <= pixelCount; p += Lanes)
            {
                float* s = planes + p;
                var r0 = Vector256.Load(s); var r1 = Vector256.Load(s + planeStride); var r2 = Vector256.Load(s + 2 * planeStride); var r3 = Vector256.Load(s + 3 * planeStride);
                var r4 = Vector256.Load(s + 4 * planeStride); var r5 = Vector256.Load(s + 5 * planeStride); var r6 = Vector256.Load(s + 6 * planeStride); var r7 = Vector256.Load(s + 7 * planeStride);
                VectorTranspose.Transpose8x8(ref r0, ref r1, ref r2, ref r3, ref r4, ref r5, ref r6, ref r7);
                float* d = pixels + (nint)p * Lanes;
                r0.Store(d); r1.Store(d + 8); r2.Store(d + 16); r3.Store(d + 24);
                r4.Store(d + 32); r5.Store(d + 40); r6.Store(d + 48); r7.Store(d + 56);
            }
        }
        for (; p < pixelCount; p++)
        {
            float* d = pixels + (nint)p * Lanes;
            int l = 0;
            for (; l < count; l++) d[l] = planes[l * planeStride + p];
            for (; l < Lanes; l++) d[l] = 0;
        }
    }
}
