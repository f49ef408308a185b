using System.Buffers;
using System.Text;
using System.Text.Json;

namespace Vicreg.Training;

/// <summary>
/// stats.txt in the experiment folder, as the official code writes it: the command line, then one JSON
/// object per line. Lines are appended and flushed as they are written, so an interrupted run keeps
/// everything logged so far, and a resumed run appends to the same file.
/// </summary>
public sealed class StatsLog : IDisposable
{
    private readonly StreamWriter _writer;
    private readonly ArrayBufferWriter<byte> _buffer = new(512);

    public StatsLog(string path, string commandLine)
    {
        bool exists = File.Exists(path);
        _writer = new StreamWriter(new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read), new UTF8Encoding(false));
        if (!exists) _writer.WriteLine(commandLine);
        else _writer.WriteLine(commandLine + "   # resumed");
        _writer.Flush();
    }

    /// <summary>Writes one JSON line built by <paramref name="write"/> (which adds properties to an open object).</summary>
    public void Write(Action<Utf8JsonWriter> write)
    {
        _buffer.Clear();
        using (var json = new Utf8JsonWriter(_buffer))
        {
            json.WriteStartObject();
            write(json);
            json.WriteEndObject();
        }
        _writer.WriteLine(Encoding.UTF8.GetString(_buffer.WrittenSpan));
        _writer.Flush();
    }

    /// <summary>An evaluation's result: <paramref name="fileName"/> in <paramref name="expDir"/> (created if missing) gets
    /// the command line and one JSON line, appended as every log here is.</summary>
    public static void WriteResult(string expDir, string fileName, string commandLine, Action<Utf8JsonWriter> write)
    {
        Directory.CreateDirectory(expDir);
        using var log = new StatsLog(Path.Combine(expDir, fileName), commandLine);
        log.Write(write);
    }

    public void Dispose() => _writer.Dispose();
}
