using System.Globalization;
using System.Text;

namespace Vicreg.Engine.IO;

/// <summary>
/// Writes a float32 matrix as CSV: one line per row, the columns separated by commas, no header, each value in
/// the shortest form that reads back to the same float32 (invariant culture). Written atomically (<see cref="AtomicFile"/>).
/// </summary>
public static class CsvMatrixWriter
{
    /// <summary>Writes the row-major matrix <paramref name="values"/> [<paramref name="rows"/>, <paramref name="columns"/>] to <paramref name="path"/>, all or nothing.</summary>
    public static void Write(string path, float[] values, int rows, int columns)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegative(columns);
        if ((long)rows * columns != values.Length) throw new ArgumentException($"{values.Length} values are not a {rows} x {columns} matrix");
        AtomicFile.Write(path, "csv", stream =>
        {
            using var writer = new StreamWriter(stream, new UTF8Encoding(false), 1 << 16, leaveOpen: true) { NewLine = "\n" };
            for (int r = 0; r < rows; r++)
            {
                for (int c = 0; c < columns; c++)
                {
                    if (c > 0) writer.Write(',');
                    writer.Write(values[(long)r * columns + c].ToString("R", CultureInfo.InvariantCulture));
                }
                writer.WriteLine();
            }
        });
    }
}
