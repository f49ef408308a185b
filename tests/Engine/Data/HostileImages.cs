using System.Buffers.Binary;
using System.IO.Compression;
using Vicreg.Engine.Data.Decoding;

namespace Vicreg.Tests.Engine.Data;

/// <summary>Image files that lie about their size, or are simply huge, generated small and fast.</summary>
internal static class HostileImages
{
    public static byte[] Ihdr(int width, int height, int depth, int colorType)
    {
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = (byte)depth;
        ihdr[9] = (byte)colorType;
        return ihdr;
    }

    /// <summary>A tiny PNG (valid chunks and CRCs) whose header announces <paramref name="width"/> x <paramref name="height"/>.</summary>
    public static byte[] PngClaiming(int width, int height, int depth = 8, int colorType = 2)
    {
        using var png = new MemoryStream();
        png.Write([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]);
        TestPngWriter.Chunk(png, "IHDR", Ihdr(width, height, depth, colorType));
        using var z = new MemoryStream();
        using (var zs = new ZLibStream(z, CompressionLevel.Optimal, leaveOpen: true)) zs.Write([0, 7, 9]);
        TestPngWriter.Chunk(png, "IDAT", z.ToArray());
        TestPngWriter.Chunk(png, "IEND", []);
        return png.ToArray();
    }

    /// <summary>A valid, non-interlaced PNG of any size whose every row is <paramref name="row"/>(y) (filter 0),
    /// compressed as it is generated: a 30000 x 30000 1-bit image is under 1 MB.</summary>
    public static byte[] LargePng(int width, int height, int depth, int colorType, Func<int, byte[]> row)
    {
        using var z = new MemoryStream();
        using (var zs = new ZLibStream(z, CompressionLevel.Optimal, leaveOpen: true))
        {
            for (int y = 0; y < height; y++)
            {
                zs.WriteByte(0);
                zs.Write(row(y));
            }
        }
        using var png = new MemoryStream();
        png.Write([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]);
        TestPngWriter.Chunk(png, "IHDR", Ihdr(width, height, depth, colorType));
        TestPngWriter.Chunk(png, "IDAT", z.ToArray());
        TestPngWriter.Chunk(png, "IEND", []);
        return png.ToArray();
    }

    /// <summary>Bytes of one row: a pattern that differs from column to column but repeats from row to row.</summary>
    public static byte[] PatternRow(int bytes) => Enumerable.Range(0, bytes).Select(i => (byte)(i * 29 + 11)).ToArray();

    /// <summary>A small real JPEG whose frame header (SOF) is rewritten to announce another size.</summary>
    public static byte[] JpegClaiming(int width, int height, bool progressive)
    {
        var jpeg = JpegEncoder.Encode(TestImages.Smooth(16, 16, 3, 3), 16, 16, 3, 90, progressive);
        for (int i = 2; i + 9 < jpeg.Length; i++)
        {
            if (jpeg[i] == 0xFF && jpeg[i + 1] is 0xC0 or 0xC1 or 0xC2)
            {
                BinaryPrimitives.WriteUInt16BigEndian(jpeg.AsSpan(i + 5), (ushort)height);
                BinaryPrimitives.WriteUInt16BigEndian(jpeg.AsSpan(i + 7), (ushort)width);
                return jpeg;
            }
        }
        throw new InvalidOperationException("no SOF marker");
    }
}

/// <summary>
/// The rise of the process's peak resident memory over a piece of work: GC heap and native allocations
/// (libjpeg) alike. Linux resets the peak (VmHWM) to the current resident size when "5" is written to
/// /proc/self/clear_refs; the suite runs one test at a time, so the peak is this work's.
/// </summary>
internal static class PeakMemory
{
    public static bool Available => File.Exists("/proc/self/clear_refs");

    public static long Growth(Action work)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        File.WriteAllText("/proc/self/clear_refs", "5");
        long before = Status("VmRSS");
        work();
        return Status("VmHWM") - before;
    }

    private static long Status(string field)
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith(field + ":", StringComparison.Ordinal))
                return long.Parse(line[(field.Length + 1)..].Trim().Split(' ')[0]) * 1024;
        throw new InvalidOperationException($"{field} not in /proc/self/status");
    }
}
