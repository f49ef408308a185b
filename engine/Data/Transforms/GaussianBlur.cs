namespace Vicreg.Engine.Data.Transforms;

/// <summary>
/// Pillow's ImageFilter.GaussianBlur(radius = sigma), which the official VICReg code uses: not a
/// sampled Gaussian kernel but three passes of an "extended" box blur (Gwosdek et al. 2011) per axis,
/// with 24-bit fixed-point weights and edge pixels repeated (libImaging/BoxBlur.c). The whole image
/// is blurred (the kernel size follows from sigma; there is no truncation parameter).
/// </summary>
public static class GaussianBlur
{
    private const int Passes = 3;

    [ThreadStatic] private static byte[]? t_line;
    [ThreadStatic] private static byte[]? t_transposed;

    /// <summary>The extended box radius of Pillow's _gaussian_blur_radius, in float32 as Pillow.</summary>
    internal static float BoxRadius(float sigma)
    {
        float sigma2 = sigma * sigma / Passes;
        float bigL = (float)Math.Sqrt(12.0 * sigma2 + 1.0);
        float l = (float)Math.Floor((bigL - 1.0) / 2.0);
        float a = (2 * l + 1) * (l * (l + 1) - 3 * sigma2);
        a /= 6 * (sigma2 - (l + 1) * (l + 1));
        return l + a;
    }

    /// <summary>Blurs packed HWC bytes in place.</summary>
    public static void Apply(Span<byte> pixels, int width, int height, int channels, float sigma)
    {
        if (sigma <= 0) return;
        float radius = BoxRadius(sigma);
        int n = width * height * channels;
        var transposed = t_transposed;
        if (transposed is null || transposed.Length < n) t_transposed = transposed = new byte[Math.Max(n, 1 << 16)];
        var t = transposed.AsSpan(0, n);

        for (int p = 0; p < Passes; p++) BlurRows(pixels, width, height, channels, radius);
        Transpose(pixels, t, width, height, channels);
        for (int p = 0; p < Passes; p++) BlurRows(t, height, width, channels, radius);
        Transpose(t, pixels, height, width, channels);
    }

    private static void Transpose(ReadOnlySpan<byte> src, Span<byte> dst, int width, int height, int channels)
    {
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
                for (int c = 0; c < channels; c++)
                    dst[(x * height + y) * channels + c] = src[(y * width + x) * channels + c];
    }

    /// <summary>One horizontal box pass over every row (ImagingHorizontalBoxBlur).</summary>
    private static void BlurRows(Span<byte> image, int width, int height, int channels, float floatRadius)
    {
        int radius = (int)floatRadius;
        uint ww = (uint)((float)(1 << 24) / (floatRadius * 2 + 1));
        uint fw = (uint)(((1 << 24) - (radius * 2 + 1) * ww) / 2);
        int edgeA = Math.Min(radius + 1, width);
        int edgeB = Math.Max(width - radius - 1, 0);
        int stride = width * channels;
        var line = t_line;
        if (line is null || line.Length < stride) t_line = line = new byte[Math.Max(stride, 4096)];
        for (int y = 0; y < height; y++)
        {
            var row = image.Slice(y * stride, stride);
            row.CopyTo(line);
            for (int c = 0; c < channels; c++) BlurLine(line, row, width - 1, radius, edgeA, edgeB, ww, fw, channels, c);
        }
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static uint At(ReadOnlySpan<byte> line, int x, int ch, int c) => line[x * ch + c];

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static void Save(Span<byte> line, int x, int ch, int c, uint bulk) => line[x * ch + c] = (byte)((bulk + (1u << 23)) >> 24);

    private static void BlurLine(ReadOnlySpan<byte> input, Span<byte> output, int lastx, int radius, int edgeA, int edgeB, uint ww, uint fw, int ch, int c)
    {
        unchecked
        {

            uint acc = At(input, 0, ch, c) * (uint)(radius + 1);
            for (int x = 0; x < edgeA - 1; x++) acc += At(input, x, ch, c);
            acc += At(input, lastx, ch, c) * (uint)(radius - edgeA + 1);

            if (edgeA <= edgeB)
            {
                for (int x = 0; x < edgeA; x++)
                {
                    acc += At(input, x + radius, ch, c) - At(input, 0, ch, c);
                    Save(output, x, ch, c, acc * ww + (At(input, 0, ch, c) + At(input, x + radius + 1, ch, c)) * fw);
                }
                for (int x = edgeA; x < edgeB; x++)
                {
                    acc += At(input, x + radius, ch, c) - At(input, x - radius - 1, ch, c);
                    Save(output, x, ch, c, acc * ww + (At(input, x - radius - 1, ch, c) + At(input, x + radius + 1, ch, c)) * fw);
                }
                for (int x = edgeB; x <= lastx; x++)
                {
                    acc += At(input, lastx, ch, c) - At(input, x - radius - 1, ch, c);
                    Save(output, x, ch, c, acc * ww + (At(input, x - radius - 1, ch, c) + At(input, lastx, ch, c)) * fw);
                }
            }
            else
            {
                for (int x = 0; x < edgeB; x++)
                {
                    acc += At(input, x + radius, ch, c) - At(input, 0, ch, c);
                    Save(output, x, ch, c, acc * ww + (At(input, 0, ch, c) + At(input, x + radius + 1, ch, c)) * fw);
                }
                for (int x = edgeB; x < edgeA; x++)
                {
                    acc += At(input, lastx, ch, c) - At(input, 0, ch, c);
                    Save(output, x, ch, c, acc * ww + (At(input, 0, ch, c) + At(input, lastx, ch, c)) * fw);
                }
                for (int x = edgeA; x <= lastx; x++)
                {
                    acc += At(input, lastx, ch, c) - At(input, x - radius - 1, ch, c);
                    Save(output, x, ch, c, acc * ww + (At(input, x - radius - 1, ch, c) + At(input, lastx, ch, c)) * fw);
                }
            }
        }
    }
}
