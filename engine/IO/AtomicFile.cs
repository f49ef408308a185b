namespace Vicreg.Engine.IO;

/// <summary>
/// Writes a file so that an interrupted write never replaces a good file with a broken one: everything goes to a
/// hidden temporary beside the destination (<see cref="SafetensorsWriter.TemporaryName"/>, so stale ones can be
/// recognized), which is flushed to disk and then moved over the destination.
/// </summary>
public static class AtomicFile
{
    /// <summary>Writes <paramref name="path"/> through <paramref name="write"/>, all or nothing.</summary>
    /// <param name="path">the destination</param>
    /// <param name="format">the format's name, which starts the message when the folder does not exist</param>
    /// <param name="write">writes the whole content to the temporary file</param>
    public static void Write(string path, string format, Action<FileStream> write)
    {
        string fullPath = Path.GetFullPath(path);
        string directory = Path.GetDirectoryName(fullPath)!;
        if (!Directory.Exists(directory)) throw new DirectoryNotFoundException($"{format}: the folder {directory} does not exist");
        string temporary = Path.Combine(directory, SafetensorsWriter.TemporaryName(Path.GetFileName(fullPath), Environment.ProcessId, Guid.NewGuid()));
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 20))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temporary, fullPath, overwrite: true);
        }
        catch
        {
            try { File.Delete(temporary); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
    }
}
