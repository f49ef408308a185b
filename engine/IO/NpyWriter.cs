using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;

namespace Vicreg.Engine.IO;

/// <summary>
/// Writes a float32 matrix as a NumPy .npy file, format version 1.0: the magic <c>\x93NUMPY</c>, the version
/// bytes 1 0, the header's length (little-endian uint16) and the header, a Python dict literal
/// <c>{'descr': '&lt;f4', 'fortran_order': False, 'shape': (rows, columns), }</c> padded with spaces and ended by a
/// newline so that the data starts at a multiple of 64 bytes (as NumPy writes it), then the values little-endian,
/// row-major (C order). <c>numpy.load</c> reads it without pickle. Written atomically (<see cref="AtomicFile"/>).
/// </summary>
public static class NpyWriter
{
    private const int Alignment = 64;

    /// <summary>Writes the row-major matrix <paramref name="values"/> [<paramref name="rows"/>, <paramref name="columns"/>] to <paramref name="path"/>, all or nothing.</summary>
    public static void Write(string path, float[] values, int rows, int columns)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("the .npy writer assumes a little-endian machine");
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegative(columns);
        if ((long)rows * columns != values.Length) throw new ArgumentException($"{values.Length} values are not a {rows} x {columns} matrix");
        AtomicFile.Write(path, "npy", stream =>
        {
            stream.Write(Header(rows, columns));
            stream.Write(MemoryMarshal.AsBytes(values.AsSpan()));
        });
    }

    /// <summary>Everything before the data: magic, version, length and the padded dict.</summary>
    public static byte[] Header(int rows, int columns)
    {
        string dict = $"{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {columns}), }}";
        const int preamble = 6 + 2 + 2; // magic, version 1.0, header length
        int total = (preamble + dict.Length + 1 + Alignment - 1) / Alignment * Alignment;
        var header = new byte[total];
        header[0] = 0x93;
        "NUMPY"u8.CopyTo(header.AsSpan(1));
        header[6] = 1;
        header[7] = 0;
        BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(8), (ushort)(total - preamble));
        int end = preamble + Encoding.ASCII.GetBytes(dict, header.AsSpan(preamble));
        header.AsSpan(end, total - 1 - end).Fill((byte)' ');
        header[total - 1] = (byte)'\n';
        return header;
    }
}
