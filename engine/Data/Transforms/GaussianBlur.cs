using System.Runtime.Intrinsics;

namespace Vicreg.Engine.Data.Transforms;

/// <summary>
/// Pillow's ImageFilter.GaussianBlur(radius = sigma), which the official VICReg code uses: not a
/// sampled Gaussian kernel but three passes of an "extended" box blur (Gwosdek et al. 2011) per axis,
/// with 24-bit fixed-point weights and edge pixels repeated (libImaging/BoxBlur.c). The whole image
/// is blurred (the kernel size follows from sigma; there is no truncation parameter).
/// <para>
/// Pillow blurs rows three times, transposes, blurs rows three times and transposes back. Here the
/// passes run down the columns instead, every column of a row at once in 8-lane vectors (exact
/// integer arithmetic: the same bytes), and the row passes are column passes on the transposed image.
/// </para>
/// </summary>
public static unsafe class GaussianBlur
{
    private const int Passes = 3;

    [ThreadStatic] private static byte[]? t_buffers;
    [ThreadStatic] private static uint[]? t_acc;

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

    private readonly struct Box
    {
        public readonly int Radius, EdgeA, EdgeB;
        public readonly uint Ww, Fw;

        public Box(float floatRadius, int length)
        {
            Radius = (int)floatRadius;
            Ww = (uint)((float)(1 << 24) / (floatRadius * 2 + 1));
            Fw = (uint)(((1 << 24) - (Radius * 2 + 1) * Ww) / 2);
            EdgeA = Math.Min(Radius + 1, length);
            EdgeB = Math.Max(length - Radius - 1, 0);
        }
    }

    /// <summary>Blurs packed HWC bytes in place.</summary>
    public static void Apply(Span<byte> pixels, int width, int height, int channels, float sigma)
    {
        if (sigma <= 0) return;
        int n = width * height * channels;
        if (pixels.Length < n) throw new ArgumentException("pixel buffer too small");
        float radius = BoxRadius(sigma);
        var buffers = t_buffers;
        if (buffers is null || buffers.Length < 2 * n) t_buffers = buffers = new byte[Math.Max(2 * n, 1 << 16)];
        var acc = t_acc;
        int longestRow = Math.Max(width, height) * channels;
        if (acc is null || acc.Length < longestRow) t_acc = acc = new uint[Math.Max(longestRow, 4096)];
        fixed (byte* image = pixels)
        fixed (byte* tmp = buffers)
        fixed (uint* a = acc)
        {
            byte* transposed = tmp + n;
            // Rows first (as Pillow): transpose, blur the columns of the transposed image, transpose back.
            Transpose(image, transposed, width, height, channels);
            BlurColumns(transposed, tmp, height * channels, width, new Box(radius, width), a);
            Transpose(transposed, image, height, width, channels);
            BlurColumns(image, tmp, width * channels, height, new Box(radius, height), a);
        }
    }

    private static void Transpose(byte* src, byte* dst, int width, int height, int channels)
    {
        if (channels == 3)
        {
            for (int y = 0; y < height; y++)
            {
                byte* s = src + y * width * 3;
                byte* d = dst + y * 3;
                for (int x = 0; x < width; x++, s += 3, d += height * 3)
                {
                    d[0] = s[0];
                    d[1] = s[1];
                    d[2] = s[2];
                }
            }
        }
        else
        {
            for (int y = 0; y < height; y++)
                for (int x = 0; x < width; x++) dst[x * height + y] = src[y * width + x];
        }
    }

    /// <summary>Three box passes down every byte column of a (rows x rowBytes) image, in place, all
    /// columns of a row at once: image to scratch to image... ping-ponging through one scratch copy.</summary>
    private static void BlurColumns(byte* image, byte* scratch, int rowBytes, int rows, in Box box, uint* acc)
    {
        // pass 1: image -> scratch, pass 2: scratch -> image, pass 3: image -> scratch, then copy back.
        BlurPass(image, scratch, rowBytes, rows, box, acc);
        BlurPass(scratch, image, rowBytes, rows, box, acc);
        BlurPass(image, scratch, rowBytes, rows, box, acc);
        Buffer.MemoryCopy(scratch, image, (long)rowBytes * rows, (long)rowBytes * rows);
    }

    /// <summary>ImagingLineBoxBlur's schedule along the rows, each step applied to every column.</summary>
    private static void BlurPass(byte* input, byte* output, int rowBytes, int rows, in Box box, uint* acc)
    {
        int radius = box.Radius, edgeA = box.EdgeA, edgeB = box.EdgeB, last = rows - 1;
        byte* Row(int y) => input + (long)y * rowBytes;

        for (int i = 0; i < rowBytes; i++) acc[i] = input[i] * (uint)(radius + 1);
        for (int y = 0; y < edgeA - 1; y++) AddRow(acc, Row(y), rowBytes, 1);
        AddRow(acc, Row(last), rowBytes, (uint)(radius - edgeA + 1));

        if (edgeA <= edgeB)
        {
            for (int y = 0; y < edgeA; y++) Step(acc, Row(y + radius), Row(0), Row(0), Row(y + radius + 1), output + (long)y * rowBytes, rowBytes, box);
            for (int y = edgeA; y < edgeB; y++) Step(acc, Row(y + radius), Row(y - radius - 1), Row(y - radius - 1), Row(y + radius + 1), output + (long)y * rowBytes, rowBytes, box);
            for (int y = edgeB; y <= last; y++) Step(acc, Row(last), Row(y - radius - 1), Row(y - radius - 1), Row(last), output + (long)y * rowBytes, rowBytes, box);
        }
        else
        {
            for (int y = 0; y < edgeB; y++) Step(acc, Row(y + radius), Row(0), Row(0), Row(y + radius + 1), output + (long)y * rowBytes, rowBytes, box);
            for (int y = edgeB; y < edgeA; y++) Step(acc, Row(last), Row(0), Row(0), Row(last), output + (long)y * rowBytes, rowBytes, box);
            for (int y = edgeA; y <= last; y++) Step(acc, Row(last), Row(y - radius - 1), Row(y - radius - 1), Row(last), output + (long)y * rowBytes, rowBytes, box);
        }
    }

    private static void AddRow(uint* acc, byte* row, int n, uint times)
    {
        for (int i = 0; i < n; i++) acc[i] += row[i] * times;
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static Vector256<uint> Load8(byte* p) =>
        Vector256.WidenLower(Vector256.WidenLower(Vector128.CreateScalarUnsafe(*(ulong*)p).AsByte().ToVector256Unsafe()));

    /// <summary>acc += add - subtract; out = (acc ww + (left + right) fw + 2^23) >> 24, for every column.</summary>
    private static void Step(uint* acc, byte* add, byte* subtract, byte* left, byte* right, byte* output, int n, in Box box)
    {
        unchecked
        {
            uint ww = box.Ww, fw = box.Fw;
            const uint half = 1u << 23;
            int i = 0;
            if (Vector256.IsHardwareAccelerated)
            {
                var vww = Vector256.Create(ww);
                var vfw = Vector256.Create(fw);
                var vhalf = Vector256.Create(half);
                for (; i + 8 <= n; i += 8)
                {
                    var a = Vector256.Load(acc + i) + Load8(add + i) - Load8(subtract + i);
                    a.Store(acc + i);
                    var bulk = (a * vww + (Load8(left + i) + Load8(right + i)) * vfw + vhalf) >> 24;
                    var s16 = Vector256.Narrow(bulk, bulk);
                    var s8 = Vector256.Narrow(s16, s16);
                    *(ulong*)(output + i) = s8.AsUInt64().GetElement(0);
                }
            }
            for (; i < n; i++)
            {
                uint a = acc[i] + (uint)(add[i] - subtract[i]);
                acc[i] = a;
                output[i] = (byte)((a * ww + (uint)(left[i] + right[i]) * fw + half) >> 24);
            }
        }
    }
}
