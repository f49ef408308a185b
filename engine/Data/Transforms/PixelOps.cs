using System.Runtime.CompilerServices;

namespace Vicreg.Engine.Data.Transforms;

/// <summary>
/// In-place 8-bit pixel operations on packed HWC images (1 or 3 channels), each computed as Pillow
/// computes it (with torchvision's functional_pil on top), so that an augmentation seen through our
/// pipeline is the one PyTorch users get. Float arithmetic is float32 where Pillow's C is.
/// </summary>
internal static class PixelOps
{
    /// <summary>Pillow's Image.blend(degenerate, image, alpha) for one byte: degenerate + alpha (image -
    /// degenerate) in float32, truncated, clamped when extrapolating (alpha outside [0, 1]).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static byte Blend(int degenerate, int value, float alpha, bool extrapolate)
    {
        float t = degenerate + alpha * (value - degenerate);
        if (!extrapolate) return (byte)(int)t;
        return t <= 0f ? (byte)0 : t >= 255f ? (byte)255 : (byte)(int)t;
    }

    private static bool Extrapolates(float alpha) => !(alpha >= 0 && alpha <= 1);

    /// <summary>torchvision adjust_brightness (ImageEnhance.Brightness): blend with black.</summary>
    public static void Brightness(Span<byte> pixels, float factor)
    {
        bool ex = Extrapolates(factor);
        Span<byte> lut = stackalloc byte[256];
        for (int v = 0; v < 256; v++) lut[v] = Blend(0, v, factor, ex);
        ApplyLut(pixels, lut);
    }

    /// <summary>torchvision adjust_contrast (ImageEnhance.Contrast): blend with the mean luma, rounded to an integer.</summary>
    public static void Contrast(Span<byte> pixels, int channels, float factor)
    {
        long sum = 0;
        int n = pixels.Length / channels;
        if (channels == 3)
            for (int i = 0; i < n; i++) sum += ColorMath.Luma(pixels[i * 3], pixels[i * 3 + 1], pixels[i * 3 + 2]);
        else
            foreach (byte b in pixels) sum += b;
        int mean = (int)((double)sum / n + 0.5);
        bool ex = Extrapolates(factor);
        Span<byte> lut = stackalloc byte[256];
        for (int v = 0; v < 256; v++) lut[v] = Blend(mean, v, factor, ex);
        ApplyLut(pixels, lut);
    }

    /// <summary>torchvision adjust_saturation (ImageEnhance.Color): blend with the image's own luma. No-op on gray.</summary>
    public static void Saturation(Span<byte> pixels, int channels, float factor)
    {
        if (channels == 1) return; // blending an L image with itself gives it back
        bool ex = Extrapolates(factor);
        int n = pixels.Length / 3;
        for (int i = 0; i < n; i++)
        {
            int o = i * 3;
            int l = ColorMath.Luma(pixels[o], pixels[o + 1], pixels[o + 2]);
            pixels[o] = Blend(l, pixels[o], factor, ex);
            pixels[o + 1] = Blend(l, pixels[o + 1], factor, ex);
            pixels[o + 2] = Blend(l, pixels[o + 2], factor, ex);
        }
    }

    /// <summary>
    /// torchvision adjust_hue on PIL: RGB to Pillow's 8-bit HSV, hue byte += uint8(factor * 255) modulo
    /// 256 (numpy's truncating cast), back to RGB. No-op on gray images.
    /// </summary>
    public static void Hue(Span<byte> pixels, int channels, float factor)
    {
        if (channels == 1) return;
        byte shift = unchecked((byte)(int)(factor * 255.0));
        int n = pixels.Length / 3;
        for (int i = 0; i < n; i++)
        {
            int o = i * 3;
            RgbToHsv(pixels[o], pixels[o + 1], pixels[o + 2], out byte h, out byte s, out byte v);
            h = unchecked((byte)(h + shift));
            HsvToRgb(h, s, v, out pixels[o], out pixels[o + 1], out pixels[o + 2]);
        }
    }

    /// <summary>Pillow Convert.c rgb2hsv (following colorsys), 8-bit.</summary>
    internal static void RgbToHsv(byte r, byte g, byte b, out byte h, out byte s, out byte v)
    {
        byte max = Math.Max(r, Math.Max(g, b));
        byte min = Math.Min(r, Math.Min(g, b));
        v = max;
        if (min == max)
        {
            h = 0;
            s = 0;
            return;
        }
        float cr = max - min;
        float sf = cr / max;
        float rc = (max - r) / cr;
        float gc = (max - g) / cr;
        float bc = (max - b) / cr;
        float hf;
        if (r == max) hf = bc - gc;
        else if (g == max) hf = (float)(2.0 + rc - bc); // double in C, stored to float
        else hf = (float)(4.0 + gc - rc);
        hf = (float)((hf / 6.0 + 1.0) % 1.0);
        h = Clip8((int)(hf * 255.0));
        s = Clip8((int)(sf * 255.0));
    }

    /// <summary>Pillow Convert.c hsv2rgb, 8-bit.</summary>
    internal static void HsvToRgb(byte h, byte s, byte v, out byte r, out byte g, out byte b)
    {
        if (s == 0)
        {
            r = g = b = v;
            return;
        }
        int i = (int)Math.Floor((float)h * 6.0 / 255.0);
        float f = (float)((float)h * 6.0 / 255.0 - i);
        float fs = (float)(s / 255.0);
        byte p = Clip8((int)Math.Round(v * (1.0 - fs), MidpointRounding.AwayFromZero));
        byte q = Clip8((int)Math.Round(v * (1.0 - fs * f), MidpointRounding.AwayFromZero));
        byte t = Clip8((int)Math.Round(v * (1.0 - fs * (1.0 - f)), MidpointRounding.AwayFromZero));
        switch (i % 6)
        {
            case 0: r = v; g = t; b = p; break;
            case 1: r = q; g = v; b = p; break;
            case 2: r = p; g = v; b = t; break;
            case 3: r = p; g = q; b = v; break;
            case 4: r = t; g = p; b = v; break;
            default: r = v; g = p; b = q; break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static byte Clip8(int v) => (byte)(v < 0 ? 0 : v > 255 ? 255 : v);

    /// <summary>RandomGrayscale on RGB: Pillow's convert("L") then back to 3 equal channels.</summary>
    public static void Grayscale(Span<byte> pixels, int channels)
    {
        if (channels == 1) return;
        int n = pixels.Length / 3;
        for (int i = 0; i < n; i++)
        {
            int o = i * 3;
            byte l = ColorMath.Luma(pixels[o], pixels[o + 1], pixels[o + 2]);
            pixels[o] = pixels[o + 1] = pixels[o + 2] = l;
        }
    }

    /// <summary>ImageOps.solarize(threshold=128): every byte at or above the threshold is inverted.</summary>
    public static void Solarize(Span<byte> pixels, int threshold = 128)
    {
        Span<byte> lut = stackalloc byte[256];
        for (int v = 0; v < 256; v++) lut[v] = v >= threshold ? (byte)(255 - v) : (byte)v;
        ApplyLut(pixels, lut);
    }

    /// <summary>Mirror left-right.</summary>
    public static void FlipHorizontal(Span<byte> pixels, int width, int height, int channels)
    {
        int stride = width * channels;
        for (int y = 0; y < height; y++)
        {
            var row = pixels.Slice(y * stride, stride);
            for (int a = 0, b = width - 1; a < b; a++, b--)
            {
                for (int c = 0; c < channels; c++)
                    (row[a * channels + c], row[b * channels + c]) = (row[b * channels + c], row[a * channels + c]);
            }
        }
    }

    public static void ApplyLut(Span<byte> pixels, ReadOnlySpan<byte> lut)
    {
        for (int i = 0; i < pixels.Length; i++) pixels[i] = lut[pixels[i]];
    }
}
