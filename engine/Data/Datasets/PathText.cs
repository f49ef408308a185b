using System.Text;

namespace Vicreg.Engine.Data.Datasets;

/// <summary>
/// A file path kept as the bytes the kernel knows it by (Linux names need not be UTF-8), and its text for
/// messages and file lists: UTF-8 decoded, with every byte that is not valid UTF-8 or is a control
/// character written <c>\xNN</c> and a backslash written <c>\\</c>, so the text is one line and maps back
/// to exactly one byte name.
/// </summary>
public static class PathText
{
    /// <summary>The one-line text of a byte path: UTF-8 with invalid or control bytes as <c>\xNN</c> and backslashes doubled.</summary>
    public static string Display(ReadOnlySpan<byte> path)
    {
        var text = new StringBuilder(path.Length);
        while (!path.IsEmpty)
        {
            if (Rune.DecodeFromUtf8(path, out var rune, out int used) == System.Buffers.OperationStatus.Done)
            {
                if (rune.Value == '\\') text.Append(@"\\");
                else if (Rune.IsControl(rune)) Escape(text, path[..used]);
                else text.Append(rune.ToString());
                path = path[used..];
            }
            else
            {
                Escape(text, path[..1]);
                path = path[1..];
            }
        }
        return text.ToString();
    }

    private static void Escape(StringBuilder text, ReadOnlySpan<byte> bytes)
    {
        foreach (byte b in bytes) text.Append($"\\x{b:x2}");
    }

    /// <summary>The bytes of a path given as text (file names that are valid UTF-8, as .NET strings hold them).</summary>
    public static byte[] Bytes(string path) => Encoding.UTF8.GetBytes(path);

    /// <summary><paramref name="directory"/>/<paramref name="name"/>.</summary>
    public static byte[] Join(ReadOnlySpan<byte> directory, ReadOnlySpan<byte> name)
    {
        bool slash = directory.Length > 0 && directory[^1] != (byte)'/';
        var joined = new byte[directory.Length + (slash ? 1 : 0) + name.Length];
        directory.CopyTo(joined);
        if (slash) joined[directory.Length] = (byte)'/';
        name.CopyTo(joined.AsSpan(joined.Length - name.Length));
        return joined;
    }
}
