using System.Buffers.Binary;
using System.IO.Compression;

namespace Vicreg.Tests.Engine.Data;

/// <summary>
/// A minimal PNG encoder owned by the tests (independent of the decoder under test, with its own
/// bitwise CRC): any color type and bit depth, a chosen filter type per row, optional Adam7.
/// Samples are given unpacked: one int per sample (0..2^depth-1), rows of width*samplesPerPixel.
/// </summary>
internal static class TestPngWriter
{
    public static uint Crc(ReadOnlySpan<byte> data)
    {
        uint c = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            c ^= b;
            for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (uint)-(int)(c & 1));
        }
        return ~c;
    }

    public static void Chunk(Stream s, string type, ReadOnlySpan<byte> data, bool corruptCrc = false)
    {
        Span<byte> len = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(len, data.Length);
        s.Write(len);
        var td = new byte[4 + data.Length];
        System.Text.Encoding.ASCII.GetBytes(type).CopyTo(td, 0);
        data.CopyTo(td.AsSpan(4));
        s.Write(td);
        BinaryPrimitives.WriteUInt32BigEndian(len, Crc(td) ^ (corruptCrc ? 1u : 0u));
        s.Write(len);
    }

    public static int SamplesPerPixel(int colorType) => colorType switch { 0 => 1, 2 => 3, 3 => 1, 4 => 2, 6 => 4, _ => throw new ArgumentException() };

    /// <summary>Filter type for row r of a pass: cycles through all five.</summary>
    public static byte[] Encode(int[] samples, int width, int height, int depth, int colorType, byte[]? palette = null,
                                bool interlace = false, Func<int, int>? filterForRow = null, bool corruptCrc = false, byte[]? trns = null)
    {
        filterForRow ??= r => r % 5;
        int spp = SamplesPerPixel(colorType);
        using var raw = new MemoryStream();
        int rowCounter = 0;
        var passes = interlace
            ? new (int X0, int Y0, int Dx, int Dy)[] { (0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2) }
            : [(0, 0, 1, 1)];
        foreach (var (x0, y0, dx, dy) in passes)
        {
            int pw = width > x0 ? (width - x0 + dx - 1) / dx : 0;
            int ph = height > y0 ? (height - y0 + dy - 1) / dy : 0;
            if (pw == 0 || ph == 0) continue;
            int rowBytes = (pw * spp * depth + 7) / 8;
            int bpp = Math.Max(1, spp * depth / 8);
            byte[] prev = new byte[rowBytes];
            for (int py = 0; py < ph; py++)
            {
                var row = new byte[rowBytes];
                int y = y0 + py * dy;
                for (int px = 0; px < pw; px++)
                {
                    int x = x0 + px * dx;
                    for (int s = 0; s < spp; s++)
                    {
                        int v = samples[(y * width + x) * spp + s];
                        int si = px * spp + s;
                        if (depth == 16) { row[si * 2] = (byte)(v >> 8); row[si * 2 + 1] = (byte)v; }
                        else if (depth == 8) row[si] = (byte)v;
                        else
                        {
                            int bit = si * depth;
                            row[bit / 8] |= (byte)(v << (8 - depth - bit % 8));
                        }
                    }
                }
                int filter = filterForRow(rowCounter++);
                raw.WriteByte((byte)filter);
                var f = new byte[rowBytes];
                for (int i = 0; i < rowBytes; i++)
                {
                    int a = i >= bpp ? row[i - bpp] : 0, b = py > 0 ? prev[i] : 0, c = i >= bpp && py > 0 ? prev[i - bpp] : 0;
                    int pred = filter switch
                    {
                        0 => 0,
                        1 => a,
                        2 => b,
                        3 => (a + b) / 2,
                        _ => PaethPredictor(a, b, c),
                    };
                    f[i] = (byte)(row[i] - pred);
                }
                raw.Write(f);
                prev = row;
            }
        }
        using var z = new MemoryStream();
        using (var zs = new ZLibStream(z, CompressionLevel.Optimal, leaveOpen: true)) raw.WriteTo(zs);

        using var png = new MemoryStream();
        png.Write([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]);
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = (byte)depth;
        ihdr[9] = (byte)colorType;
        ihdr[12] = (byte)(interlace ? 1 : 0);
        Chunk(png, "IHDR", ihdr);
        Chunk(png, "tEXt", "Comment\0test"u8);
        if (palette is not null) Chunk(png, "PLTE", palette);
        if (trns is not null) Chunk(png, "tRNS", trns);
        // Split the image data over two IDAT chunks, as encoders do for large images.
        var zb = z.ToArray();
        int half = zb.Length / 2;
        Chunk(png, "IDAT", zb.AsSpan(0, half), corruptCrc);
        Chunk(png, "IDAT", zb.AsSpan(half));
        Chunk(png, "IEND", []);
        return png.ToArray();
    }

    private static int PaethPredictor(int a, int b, int c)
    {
        int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }
}
