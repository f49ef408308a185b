using System.Buffers.Binary;
using System.IO.Compression;

namespace Vicreg.Engine.Data.Decoding;

/// <summary>
/// A managed PNG decoder: every color type (gray, RGB, palette, gray+alpha, RGBA), bit depths
/// 1/2/4/8/16 (16-bit keeps the high byte, as PIL does when converting to 8-bit modes), the five row
/// filters, Adam7 interlacing, and CRC checks on every chunk.
/// <para>
/// Alpha (an alpha channel, or a tRNS chunk) is dropped, not composited: that is what torchvision's
/// ImageFolder loader does (<c>Image.open(f).convert("RGB")</c>), and matching it matters more than a
/// background color choice.
/// </para>
/// </summary>
internal static class PngDecoder
{
    private static ReadOnlySpan<byte> Signature => [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    // Per-thread reusable buffers: compressed IDAT bytes, inflated filtered rows.
    [ThreadStatic] private static byte[]? t_compressed;
    [ThreadStatic] private static byte[]? t_raw;

    public static bool IsPng(ReadOnlySpan<byte> data) => data.Length >= 8 && data[..8].SequenceEqual(Signature);

    private readonly record struct Header(int Width, int Height, int BitDepth, int ColorType, bool Interlaced)
    {
        public int SamplesPerPixel => ColorType switch { 0 => 1, 2 => 3, 3 => 1, 4 => 2, 6 => 4, _ => 0 };
        public int BitsPerPixel => SamplesPerPixel * BitDepth;
        /// <summary>Bytes per complete pixel for the filters (at least 1).</summary>
        public int FilterStride => Math.Max(1, BitsPerPixel / 8);
        public long RowBytes(int width) => ((long)width * BitsPerPixel + 7) / 8;
    }

    public static (int Width, int Height) ReadSize(ReadOnlySpan<byte> data)
    {
        var h = ReadHeader(data);
        return (h.Width, h.Height);
    }

    private static Header ReadHeader(ReadOnlySpan<byte> data)
    {
        if (!IsPng(data)) throw new ImageDecodeException("not a PNG file (bad signature)");
        if (data.Length < 8 + 8 + 13 + 4) throw new ImageDecodeException("truncated PNG (no IHDR)");
        var chunk = data[8..];
        int length = BinaryPrimitives.ReadInt32BigEndian(chunk);
        if (length != 13 || !chunk.Slice(4, 4).SequenceEqual("IHDR"u8)) throw new ImageDecodeException("PNG does not start with an IHDR chunk");
        var d = chunk.Slice(8, 13);
        var h = new Header(BinaryPrimitives.ReadInt32BigEndian(d), BinaryPrimitives.ReadInt32BigEndian(d[4..]), d[8], d[9], d[12] == 1);
        if (h.Width <= 0 || h.Height <= 0) throw new ImageDecodeException($"PNG of size {h.Width}x{h.Height}");
        bool depthOk = h.ColorType switch
        {
            0 => h.BitDepth is 1 or 2 or 4 or 8 or 16,
            3 => h.BitDepth is 1 or 2 or 4 or 8,
            2 or 4 or 6 => h.BitDepth is 8 or 16,
            _ => false,
        };
        if (!depthOk) throw new ImageDecodeException($"unsupported PNG color type {h.ColorType} with bit depth {h.BitDepth}");
        if (d[10] != 0 || d[11] != 0 || d[12] > 1) throw new ImageDecodeException("PNG with unknown compression, filter or interlace method");
        return h;
    }

    /// <summary>Decodes to <paramref name="channels"/> (1 gray or 3 RGB) into <paramref name="destination"/>; an image
    /// of more than <paramref name="maxPixels"/> pixels is refused from its header, before any allocation.</summary>
    public static void Decode(ReadOnlySpan<byte> data, ImageBuffer destination, int channels, long maxPixels = ImageLimits.DefaultMaxPixels)
    {
        var header = ReadHeader(data);
        ImageLimits.CheckPixels(header.Width, header.Height, maxPixels);
        try
        {
            Decode(data, header, destination, channels);
        }
        finally
        {
            t_compressed = ImageLimits.Retainable(t_compressed);
            t_raw = ImageLimits.Retainable(t_raw);
        }
    }

    private static void Decode(ReadOnlySpan<byte> data, Header header, ImageBuffer destination, int channels)
    {
        Span<byte> palette = stackalloc byte[768];
        int paletteEntries = 0;
        int compressedLength = 0;
        var compressed = t_compressed ??= new byte[1 << 16];
        bool sawEnd = false;

        int pos = 8;
        while (pos < data.Length)
        {
            if (pos + 12 > data.Length) throw new ImageDecodeException("truncated PNG chunk");
            int length = BinaryPrimitives.ReadInt32BigEndian(data[pos..]);
            if (length < 0 || (long)pos + 12 + length > data.Length) throw new ImageDecodeException("truncated PNG chunk");
            var typeAndData = data.Slice(pos + 4, 4 + length);
            uint stored = BinaryPrimitives.ReadUInt32BigEndian(data[(pos + 8 + length)..]);
            if (Crc32.Compute(typeAndData) != stored)
                throw new ImageDecodeException($"PNG chunk '{System.Text.Encoding.ASCII.GetString(typeAndData[..4])}' fails its CRC check (corrupt file)");
            var type = typeAndData[..4];
            var body = typeAndData[4..];
            if (type.SequenceEqual("PLTE"u8))
            {
                if (length % 3 != 0 || length > 768) throw new ImageDecodeException("bad PNG palette");
                body.CopyTo(palette);
                paletteEntries = length / 3;
            }
            else if (type.SequenceEqual("IDAT"u8))
            {
                if (compressedLength + length > compressed.Length)
                {
                    Array.Resize(ref compressed, Math.Max(compressedLength + length, compressed.Length * 2));
                    t_compressed = compressed;
                }
                body.CopyTo(compressed.AsSpan(compressedLength));
                compressedLength += length;
            }
            else if (type.SequenceEqual("IEND"u8))
            {
                sawEnd = true;
                break;
            }
            else if ((type[0] & 0x20) == 0 && !type.SequenceEqual("IHDR"u8))
            {
                throw new ImageDecodeException($"PNG has an unknown critical chunk '{System.Text.Encoding.ASCII.GetString(type)}'");
            }
            pos += 12 + length;
        }
        if (!sawEnd) throw new ImageDecodeException("truncated PNG (no IEND chunk)");
        if (header.ColorType == 3 && paletteEntries == 0) throw new ImageDecodeException("palette PNG without a PLTE chunk");

        long rawLength = 0;
        foreach (var (_, _, w, h) in Passes(header))
        {
            if (w == 0 || h == 0) continue;
            long rowBytes = 1 + header.RowBytes(w);
            if (rowBytes > (Array.MaxLength - rawLength) / h) // also keeps h * rowBytes from overflowing
                throw new ImageDecodeException($"PNG {header.Width}x{header.Height} is too large for one buffer");
            rawLength += h * rowBytes;
        }
        var raw = t_raw;
        if (raw is null || raw.Length < rawLength) t_raw = raw = GC.AllocateUninitializedArray<byte>((int)Math.Max(rawLength, 1 << 16));
        Inflate(compressed, compressedLength, raw.AsSpan(0, (int)rawLength));

        var dst = destination.Reset(header.Width, header.Height, channels);
        int offset = 0;
        foreach (var (x0, y0, dx, dy, w, h) in PassGrids(header))
        {
            if (w == 0 || h == 0) continue;
            int rowBytes = (int)header.RowBytes(w);
            var pass = raw.AsSpan(offset, h * (rowBytes + 1));
            Unfilter(pass, h, rowBytes, header.FilterStride);
            for (int y = 0; y < h; y++)
                EmitRow(pass.Slice(y * (rowBytes + 1) + 1, rowBytes), header, palette[..(paletteEntries * 3)], w, dst, y0 + y * dy, x0, dx, channels);
            offset += h * (rowBytes + 1);
        }
    }

    /// <summary>Sub-image sizes of the passes (one pass when not interlaced).</summary>
    private static IEnumerable<(int, int, int W, int H)> Passes(Header h)
    {
        foreach (var (x0, y0, _, _, w, hh) in PassGrids(h)) yield return (x0, y0, w, hh);
    }

    private static readonly (int X0, int Y0, int Dx, int Dy)[] Adam7 =
        [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)];

    private static IEnumerable<(int X0, int Y0, int Dx, int Dy, int W, int H)> PassGrids(Header h)
    {
        if (!h.Interlaced)
        {
            yield return (0, 0, 1, 1, h.Width, h.Height);
            yield break;
        }
        foreach (var (x0, y0, dx, dy) in Adam7)
        {
            int w = h.Width > x0 ? (h.Width - x0 + dx - 1) / dx : 0;
            int hh = h.Height > y0 ? (h.Height - y0 + dy - 1) / dy : 0;
            yield return (x0, y0, dx, dy, w, hh);
        }
    }

    private static void Inflate(byte[] compressed, int length, Span<byte> output)
    {
        try
        {
            using var input = new MemoryStream(compressed, 0, length, writable: false);
            using var z = new ZLibStream(input, CompressionMode.Decompress);
            int done = 0;
            while (done < output.Length)
            {
                int n = z.Read(output[done..]);
                if (n == 0) throw new ImageDecodeException($"truncated PNG image data ({done} of {output.Length} bytes)");
                done += n;
            }
        }
        catch (InvalidDataException e)
        {
            throw new ImageDecodeException($"corrupt PNG image data: {e.Message}", e);
        }
    }

    /// <summary>Reverses the per-row filters in place (each row is its filter byte then the bytes).</summary>
    internal static void Unfilter(Span<byte> rows, int height, int rowBytes, int bpp)
    {
        for (int y = 0; y < height; y++)
        {
            var line = rows.Slice(y * (rowBytes + 1), rowBytes + 1);
            int filter = line[0];
            var cur = line[1..];
            var prev = y == 0 ? default : rows.Slice((y - 1) * (rowBytes + 1) + 1, rowBytes);
            bool first = y == 0;
            switch (filter)
            {
                case 0: break;
                case 1: // Sub
                    for (int i = bpp; i < rowBytes; i++) cur[i] += cur[i - bpp];
                    break;
                case 2: // Up
                    if (!first) for (int i = 0; i < rowBytes; i++) cur[i] += prev[i];
                    break;
                case 3: // Average
                    for (int i = 0; i < rowBytes; i++)
                    {
                        int left = i >= bpp ? cur[i - bpp] : 0;
                        int up = first ? 0 : prev[i];
                        cur[i] += (byte)((left + up) >> 1);
                    }
                    break;
                case 4: // Paeth
                    for (int i = 0; i < rowBytes; i++)
                    {
                        int a = i >= bpp ? cur[i - bpp] : 0;
                        int b = first ? 0 : prev[i];
                        int c = i >= bpp && !first ? prev[i - bpp] : 0;
                        cur[i] += (byte)Paeth(a, b, c);
                    }
                    break;
                default:
                    throw new ImageDecodeException($"PNG row {y} has unknown filter type {filter}");
            }
        }
    }

    private static int Paeth(int a, int b, int c)
    {
        int p = a + b - c;
        int pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        if (pa <= pb && pa <= pc) return a;
        return pb <= pc ? b : c;
    }

    /// <summary>Writes one unfiltered row of w pixels to image row <paramref name="y"/>, columns x0, x0+dx, ...</summary>
    private static void EmitRow(ReadOnlySpan<byte> row, Header h, ReadOnlySpan<byte> palette, int w, Span<byte> dst, int y, int x0, int dx, int channels)
    {
        int width = h.Width;
        int depth = h.BitDepth;
        int bytesPerSample = depth == 16 ? 2 : 1;
        for (int i = 0; i < w; i++)
        {
            byte r, g, b;
            switch (h.ColorType)
            {
                case 0:
                    r = g = b = depth >= 8 ? row[i * bytesPerSample] : ScaleBits(SubByte(row, i, depth), depth);
                    break;
                case 3:
                {
                    int index = depth == 8 ? row[i] : SubByte(row, i, depth);
                    if (index * 3 + 2 >= palette.Length) throw new ImageDecodeException($"PNG palette index {index} is outside the palette");
                    r = palette[index * 3];
                    g = palette[index * 3 + 1];
                    b = palette[index * 3 + 2];
                    break;
                }
                case 4:
                    r = g = b = row[i * 2 * bytesPerSample];
                    break;
                case 2:
                    r = row[i * 3 * bytesPerSample];
                    g = row[(i * 3 + 1) * bytesPerSample];
                    b = row[(i * 3 + 2) * bytesPerSample];
                    break;
                default: // 6
                    r = row[i * 4 * bytesPerSample];
                    g = row[(i * 4 + 1) * bytesPerSample];
                    b = row[(i * 4 + 2) * bytesPerSample];
                    break;
            }
            int x = x0 + i * dx;
            int o = (y * width + x) * channels;
            if (channels == 3)
            {
                dst[o] = r;
                dst[o + 1] = g;
                dst[o + 2] = b;
            }
            else
            {
                dst[o] = ColorMath.Luma(r, g, b);
            }
        }
    }

    /// <summary>The i-th sub-byte sample (most significant bits first).</summary>
    private static int SubByte(ReadOnlySpan<byte> row, int i, int depth)
    {
        int perByte = 8 / depth;
        int shift = 8 - depth * (i % perByte + 1);
        return (row[i / perByte] >> shift) & ((1 << depth) - 1);
    }

    /// <summary>Gray levels of 1/2/4 bits spread over 0..255 (1 bit: 0/255; 2 bits: 0/85/170/255).</summary>
    private static byte ScaleBits(int v, int depth) => (byte)(v * 255 / ((1 << depth) - 1));
}
