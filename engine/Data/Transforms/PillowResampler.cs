using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Vicreg.Engine.Data.Transforms;

/// <summary>
/// Resampling of 8-bit images computed as Pillow does (libImaging/Resample.c), so that our crops and
/// resizes match torchvision-on-PIL pixel for pixel: the filter (<see cref="ResampleFilter"/>: bicubic,
/// Keys' cubic with a = -0.5 and support 2, or bilinear, the triangle with support 1) widened by the
/// scale when downscaling (antialiasing), weights normalized then rounded to 22-bit fixed point, a
/// horizontal pass into an 8-bit intermediate (rounded and clamped) then a vertical pass.
/// <para>
/// The output may be a window of a larger virtual output (a resize followed by a centre crop computes
/// only the kept pixels, identically), and the source region may have fractional bounds (a crop
/// mapped onto a DCT-downscaled decode).
/// </para>
/// </summary>
internal static class PillowResampler
{
    private const int PrecisionBits = 32 - 8 - 2;

    [ThreadStatic] private static int[]? t_boundsX, t_boundsY;
    [ThreadStatic] private static int[]? t_kernelX, t_kernelY;
    [ThreadStatic] private static double[]? t_weights;
    [ThreadStatic] private static byte[]? t_intermediate;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double Cubic(double x)
    {
        const double a = -0.5;
        if (x < 0) x = -x;
        if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
        if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
        return 0;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double Triangle(double x)
    {
        if (x < 0) x = -x;
        return x < 1 ? 1 - x : 0;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double Weight(ResampleFilter filter, double x) => filter == ResampleFilter.Bicubic ? Cubic(x) : Triangle(x);

    private static double Support(ResampleFilter filter) => filter switch
    {
        ResampleFilter.Bicubic => 2.0,
        ResampleFilter.Bilinear => 1.0,
        _ => throw new ArgumentOutOfRangeException(nameof(filter)),
    };

    /// <summary>
    /// Resamples the source region [in0, in1) along one axis of an input of <paramref name="inSize"/>
    /// samples onto <paramref name="outSize"/> outputs, keeping outputs [outStart, outStart + count).
    /// Fills first-tap/tap-count pairs and fixed-point weights (ksize per output); returns ksize.
    /// </summary>
    private static int Coefficients(ResampleFilter filter, int inSize, double in0, double in1, int outSize, int outStart, int count,
                                    ref int[]? bounds, ref int[]? kernel)
    {
        double scale = (in1 - in0) / outSize;
        double filterScale = Math.Max(scale, 1.0);
        double support = Support(filter) * filterScale;
        int ksize = (int)Math.Ceiling(support) * 2 + 1;
        if (bounds is null || bounds.Length < count * 2) bounds = new int[Math.Max(count * 2, 512)];
        if (kernel is null || kernel.Length < count * ksize) kernel = new int[Math.Max(count * ksize, 4096)];
        var weights = t_weights;
        if (weights is null || weights.Length < ksize) t_weights = weights = new double[Math.Max(ksize, 64)];

        double ss = 1.0 / filterScale;
        for (int i = 0; i < count; i++)
        {
            int xx = outStart + i;
            double center = in0 + (xx + 0.5) * scale;
            int xmin = (int)(center - support + 0.5);
            if (xmin < 0) xmin = 0;
            int xmax = (int)(center + support + 0.5);
            if (xmax > inSize) xmax = inSize;
            xmax -= xmin;
            double ww = 0;
            for (int x = 0; x < xmax; x++)
            {
                double w = Weight(filter, (x + xmin - center + 0.5) * ss);
                weights[x] = w;
                ww += w;
            }
            var k = kernel.AsSpan(i * ksize, ksize);
            for (int x = 0; x < xmax; x++)
            {
                double w = ww != 0 ? weights[x] / ww : weights[x];
                k[x] = w < 0 ? (int)(-0.5 + w * (1 << PrecisionBits)) : (int)(0.5 + w * (1 << PrecisionBits));
            }
            k[Math.Max(xmax, 0)..].Clear();
            bounds[i * 2] = xmin;
            bounds[i * 2 + 1] = Math.Max(xmax, 0);
        }
        return ksize;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static byte Clip(int v)
    {
        v >>= PrecisionBits;
        return (byte)(v < 0 ? 0 : v > 255 ? 255 : v);
    }

    /// <summary>
    /// Resizes the region [x0,x1) x [y0,y1) of <paramref name="source"/> (HWC, <paramref name="width"/> x
    /// <paramref name="height"/>, 1 or 3 channels, rows <paramref name="sourceStride"/> bytes apart: a crop is the
    /// parent image's span from the crop's first byte with the parent's stride) to a virtual <paramref name="outWidth"/> x <paramref name="outHeight"/>
    /// image and writes its window starting at (<paramref name="windowX"/>, <paramref name="windowY"/>) of size
    /// <paramref name="windowWidth"/> x <paramref name="windowHeight"/> into <paramref name="destination"/> (packed HWC),
    /// resampling with <paramref name="filter"/>.
    /// </summary>
    public static void Resize(ReadOnlySpan<byte> source, int width, int height, int channels, int sourceStride,
                              double x0, double y0, double x1, double y1,
                              int outWidth, int outHeight,
                              int windowX, int windowY, int windowWidth, int windowHeight,
                              Span<byte> destination, ResampleFilter filter)
    {
        if (channels is not (1 or 3)) throw new ArgumentOutOfRangeException(nameof(channels));
        if (destination.Length < windowWidth * windowHeight * channels) throw new ArgumentException("destination too small");
        bool needHorizontal = outWidth != width || x0 != 0 || x1 != width;
        bool needVertical = outHeight != height || y0 != 0 || y1 != height;

        int ksizeX = 0, ksizeY;
        if (needHorizontal) ksizeX = Coefficients(filter, width, x0, x1, outWidth, windowX, windowWidth, ref t_boundsX, ref t_kernelX);
        ksizeY = Coefficients(filter, height, y0, y1, outHeight, windowY, windowHeight, ref t_boundsY, ref t_kernelY);
        var boundsY = t_boundsY!;

        // Rows of the source the vertical pass reads.
        int firstRow, lastRow;
        if (needVertical)
        {
            firstRow = boundsY[0];
            lastRow = boundsY[(windowHeight - 1) * 2] + boundsY[(windowHeight - 1) * 2 + 1];
        }
        else
        {
            firstRow = windowY;
            lastRow = windowY + windowHeight;
        }

        ReadOnlySpan<byte> rows;
        int rowStride;
        if (needHorizontal)
        {
            int rowsNeeded = lastRow - firstRow;
            int bytes = rowsNeeded * windowWidth * channels;
            var tmp = t_intermediate;
            if (tmp is null || tmp.Length < bytes) t_intermediate = tmp = GC.AllocateUninitializedArray<byte>(Math.Max(bytes, 1 << 18));
            var boundsX = t_boundsX!;
            var kernelX = t_kernelX!;
            for (int r = 0; r < rowsNeeded; r++)
            {
                var src = source.Slice((firstRow + r) * sourceStride, width * channels);
                var dst = tmp.AsSpan(r * windowWidth * channels, windowWidth * channels);
                if (channels == 3) HorizontalRow3(src, dst, windowWidth, boundsX, kernelX, ksizeX);
                else HorizontalRow1(src, dst, windowWidth, boundsX, kernelX, ksizeX);
            }
            rows = tmp.AsSpan(0, bytes);
            rowStride = windowWidth * channels;
        }
        else
        {
            // No horizontal change: read the window's columns straight from the source.
            rows = source[(firstRow * sourceStride + windowX * channels)..];
            rowStride = sourceStride;
        }

        int rowBytes = windowWidth * channels;
        if (!needVertical)
        {
            for (int y = 0; y < windowHeight; y++)
                rows.Slice(y * rowStride, rowBytes).CopyTo(destination.Slice(y * rowBytes, rowBytes));
            return;
        }
        var kernelY = t_kernelY!;
        for (int y = 0; y < windowHeight; y++)
        {
            int ymin = boundsY[y * 2] - firstRow, taps = boundsY[y * 2 + 1];
            var k = kernelY.AsSpan(y * ksizeY, taps);
            VerticalRow(rows, rowStride, ymin, k, destination.Slice(y * rowBytes, rowBytes));
        }
    }

    private static unsafe void HorizontalRow3(ReadOnlySpan<byte> src, Span<byte> dst, int count, int[] bounds, int[] kernel, int ksize)
    {
        const int half = 1 << (PrecisionBits - 1);
        fixed (byte* s0 = src)
        fixed (byte* d = dst)
        fixed (int* b = bounds)
        fixed (int* k0 = kernel)
        {
            for (int x = 0; x < count; x++)
            {
                int xmin = b[x * 2], taps = b[x * 2 + 1];
                int* k = k0 + x * ksize;
                byte* s = s0 + xmin * 3;
                int r, g, bl;
                if (Vector128.IsHardwareAccelerated && taps > 1)
                {
                    // R, G, B (and the next pixel's R, ignored) of a tap in one vector; every tap but the
                    // last has a next pixel, so the 4-byte read stays inside the row.
                    var acc = Vector128.Create(half);
                    int t = 0;
                    for (; t < taps - 1; t++, s += 3)
                    {
                        var v = Vector128.WidenLower(Vector128.WidenLower(Vector128.CreateScalarUnsafe(*(uint*)s).AsByte())).AsInt32();
                        acc += v * Vector128.Create(k[t]);
                    }
                    int w = k[t];
                    r = acc.GetElement(0) + s[0] * w;
                    g = acc.GetElement(1) + s[1] * w;
                    bl = acc.GetElement(2) + s[2] * w;
                }
                else
                {
                    r = g = bl = half;
                    for (int t = 0; t < taps; t++, s += 3)
                    {
                        int w = k[t];
                        r += s[0] * w;
                        g += s[1] * w;
                        bl += s[2] * w;
                    }
                }
                d[x * 3] = Clip(r);
                d[x * 3 + 1] = Clip(g);
                d[x * 3 + 2] = Clip(bl);
            }
        }
    }

    private static unsafe void HorizontalRow1(ReadOnlySpan<byte> src, Span<byte> dst, int count, int[] bounds, int[] kernel, int ksize)
    {
        const int half = 1 << (PrecisionBits - 1);
        fixed (byte* s0 = src)
        fixed (byte* d = dst)
        fixed (int* b = bounds)
        fixed (int* k0 = kernel)
        {
            for (int x = 0; x < count; x++)
            {
                int xmin = b[x * 2], taps = b[x * 2 + 1];
                int* k = k0 + x * ksize;
                byte* s = s0 + xmin;
                int v = half;
                for (int t = 0; t < taps; t++) v += s[t] * k[t];
                d[x] = Clip(v);
            }
        }
    }

    /// <summary>One output row as the weighted sum of input rows (all bytes of a row at once, 8 lanes
    /// of 32-bit sums at a time; exact integer arithmetic, so identical to the scalar order).</summary>
    private static unsafe void VerticalRow(ReadOnlySpan<byte> rows, int stride, int ymin, ReadOnlySpan<int> k, Span<byte> dst)
    {
        const int half = 1 << (PrecisionBits - 1);
        int n = dst.Length;
        int taps = k.Length;
        fixed (byte* r0 = rows)
        fixed (byte* d = dst)
        fixed (int* kw = k)
        {
            byte* first = r0 + ymin * stride;
            int i = 0;
            if (Vector256.IsHardwareAccelerated)
            {
                var bias = Vector256.Create(half);
                var zero = Vector256<int>.Zero;
                var max = Vector256.Create(255);
                for (; i + 8 <= n; i += 8)
                {
                    var acc = bias;
                    byte* p = first + i;
                    for (int t = 0; t < taps; t++, p += stride)
                    {
                        // 8 bytes (never 16: the last row may end right after them) widened to 8 ints.
                        var v = Vector256.WidenLower(Vector256.WidenLower(Vector128.CreateScalarUnsafe(*(ulong*)p).AsByte().ToVector256Unsafe())).AsInt32();
                        acc += v * Vector256.Create(kw[t]);
                    }
                    acc = Vector256.ShiftRightArithmetic(acc, PrecisionBits);
                    acc = Vector256.Min(Vector256.Max(acc, zero), max);
                    // Narrow 8 ints (0..255) to bytes.
                    var s16 = Vector256.Narrow(acc, acc); // shorts
                    var s8 = Vector256.Narrow(s16.AsUInt16(), s16.AsUInt16());
                    *(ulong*)(d + i) = s8.AsUInt64().GetElement(0);
                }
            }
            for (; i < n; i++)
            {
                int acc = half;
                byte* p = first + i;
                for (int t = 0; t < taps; t++, p += stride) acc += *p * kw[t];
                d[i] = Clip(acc);
            }
        }
    }
}
