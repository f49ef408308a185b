namespace Vicreg.Engine.Backends.Cpu.Convolution;

/// <summary>
/// The 4x4 output tiles of a float 3x3 stride-1 convolution for Winograd F(4x4, 3x3), and the transforms from
/// images into the 36 matrices of a block of tiles, eight channels at a time. A unit is a row of tiles of one
/// image (u = n * TilesHigh + th), a block a run of units, as in <see cref="WinogradTiling"/>; tile (u, tw) is
/// row (u - u0) * TilesWide + tw of every matrix of the block, each row a tile's channels (V^T [tiles x C],
/// D^T [tiles x K]).
/// <para>A run of image rows goes through 8x8 register transposes into a pixel-major buffer (a vector of eight
/// channels per pixel) with zero padding laid out around it, so every tile's elements are whole-vector loads
/// at fixed offsets. Partial tiles at the right and bottom edges read the zero padding.</para>
/// </summary>
internal readonly unsafe struct WinogradF4Tiling
{
    private const int Lanes = 8;

    public readonly Conv2dGeometry Geometry;
    public readonly int TilesHigh, TilesWide;

    public WinogradF4Tiling(in Conv2dGeometry g)
    {
        Geometry = g;
        TilesHigh = (g.OutHeight + 3) / 4;
        TilesWide = (g.OutWidth + 3) / 4;
    }

    /// <summary>Padded width of the pixel-major buffer: the input columns a row of tiles reads (the output
    /// gradient's tiles read four fewer).</summary>
    private int PaddedWidth => 4 * TilesWide + 2;

    /// <summary>Floats of the pixel-major buffer <see cref="Input"/> and <see cref="OutputGradient"/> need for
    /// blocks of <paramref name="unitsPerBlock"/> units.</summary>
    public long PixelsSize(int unitsPerBlock) => (4L * Math.Min(unitsPerBlock, TilesHigh) + 2) * PaddedWidth * Lanes;

    /// <summary>V^T[e][tile][c] = (B^T d B)[e] for the tiles of units [u0, u1) of <paramref name="x"/> [N, C, H, W],
    /// matrix e at <c>v + e * matrix</c>, rows <paramref name="ld"/> apart; <paramref name="tmp"/> holds
    /// <see cref="WinogradF4Transforms.Scratch"/> floats.</summary>
    public void Input(float* x, int u0, int u1, float* pixels, float* v, int ld, nint matrix, float* tmp)
    {
        ref readonly var g = ref Geometry;
        int tw = TilesWide, pw = PaddedWidth;
        nint plane = (nint)g.InHeight * g.InWidth;
        for (int u = u0; u < u1;)
        {
            int n = u / TilesHigh, th0 = u - n * TilesHigh, th1 = Math.Min(TilesHigh, th0 + (u1 - u));
            // Padded rows 4 th0 .. 4 th1 + 1 (image row r - padHeight); the padding stays zero for every channel group.
            int rows = 4 * (th1 - th0) + 2;
            new Span<float>(pixels, rows * pw * Lanes).Clear();
            float* image = x + n * (nint)g.InChannels * plane;
            float* first = v + (nint)(u - u0) * tw * ld;
            int tiles = (th1 - th0) * tw;
            for (int c0 = 0; c0 < g.InChannels; c0 += Lanes)
            {
                Gather(image + c0 * plane, g.InHeight, g.InWidth, g.PadWidth, Math.Min(Lanes, g.InChannels - c0),
                    4 * th0 - g.PadHeight, rows, pixels);
                for (int t = 0; t < tiles; t++)
                {
                    int row = t / tw, column = t - row * tw;
                    WinogradF4Transforms.Input(pixels + ((nint)4 * row * pw + 4 * column) * Lanes, (nint)pw * Lanes,
                        first + (nint)t * ld + c0, matrix, tmp);
                }
            }
            u += th1 - th0;
        }
    }

    /// <summary>D^T[e][tile][k] = (A dy A^T)[e] for the tiles of units [u0, u1) of <paramref name="dy"/> [N, K, OH, OW]
    /// (outputs past the image's edge count as zero gradient), matrix e at <c>d + e * matrix</c>, rows
    /// <paramref name="ld"/> apart; <paramref name="tmp"/> holds <see cref="WinogradF4Transforms.Scratch"/> floats.</summary>
    public void OutputGradient(float* dy, int u0, int u1, float* pixels, float* d, int ld, nint matrix, float* tmp)
    {
        ref readonly var g = ref Geometry;
        int tw = TilesWide, pw = PaddedWidth;
        nint plane = (nint)g.OutHeight * g.OutWidth;
        for (int u = u0; u < u1;)
        {
            int n = u / TilesHigh, th0 = u - n * TilesHigh, th1 = Math.Min(TilesHigh, th0 + (u1 - u));
            // Output rows 4 th0 .. 4 th1 - 1; the rows and columns past the image's edge stay zero.
            int rows = 4 * (th1 - th0);
            new Span<float>(pixels, rows * pw * Lanes).Clear();
            float* image = dy + n * (nint)g.OutChannels * plane;
            float* first = d + (nint)(u - u0) * tw * ld;
            int tiles = (th1 - th0) * tw;
            for (int k0 = 0; k0 < g.OutChannels; k0 += Lanes)
            {
                Gather(image + k0 * plane, g.OutHeight, g.OutWidth, 0, Math.Min(Lanes, g.OutChannels - k0), 4 * th0, rows, pixels);
                for (int t = 0; t < tiles; t++)
                {
                    int row = t / tw, column = t - row * tw;
                    WinogradF4Transforms.OutputGradient(pixels + ((nint)4 * row * pw + 4 * column) * Lanes, (nint)pw * Lanes,
                        first + (nint)t * ld + k0, matrix, tmp);
                }
            }
            u += th1 - th0;
        }
    }

    /// <summary>pixels[r][padWidth + s][l] = plane l's pixel (r0 + r, s) of <paramref name="count"/> planes
    /// <paramref name="height"/> x <paramref name="width"/>, for the plane rows among r0 .. r0 + rows - 1 (lanes past
    /// the count zero); the rest of the buffer is left as it is (zero padding).</summary>
    private void Gather(float* planes, int height, int width, int padWidth, int count, int r0, int rows, float* pixels)
    {
        int pw = PaddedWidth;
        nint hw = (nint)height * width;
        for (int r = Math.Max(0, -r0); r < rows && r0 + r < height; r++)
        {
            float* src = planes + (nint)(r0 + r) * width;
            float* dst = pixels + ((nint)r * pw + padWidth) * Lanes;
            WinogradSmallImages.Gather(src, hw, width, count, dst);
        }
    }
}
