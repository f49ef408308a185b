using Vicreg.Engine.IO;

namespace Vicreg.Training;

/// <summary>
/// A pretraining run's hold on its --exp-dir. Opening creates the folder, takes an exclusive OS lock on
/// <see cref="LockFileName"/> (FileShare.None, which .NET implements with flock on Linux and a share mode on
/// Windows) and keeps it until disposed. The kernel drops the lock when the process ends in any way,
/// kill -9 included, so a lock is never stale; the file itself stays and means nothing on its own. A second
/// run on the same folder is refused instead of interleaving stats.txt and overwriting the checkpoint.
/// Under the lock, temporaries left by writers killed mid-save are removed.
/// </summary>
public sealed class ExperimentFolder : IDisposable
{
    public const string LockFileName = ".vicreg.lock";

    /// <summary>What .NET puts in HResult when the lock is held: ERROR_SHARING_VIOLATION on Windows, the flock
    /// errno EWOULDBLOCK on Unix (11 on Linux, 35 on macOS).</summary>
    private static bool IsLockHeld(IOException e) =>
        e.HResult == unchecked((int)0x80070020) || (OperatingSystem.IsLinux() ? e.HResult == 11 : OperatingSystem.IsMacOS() && e.HResult == 35);

    private readonly FileStream _lock;

    public string Path { get; }

    private ExperimentFolder(string path, FileStream lockFile)
    {
        Path = path;
        _lock = lockFile;
    }

    /// <summary>Takes the folder; <paramref name="say"/> hears of removed temporaries (one line, if any).</summary>
    public static ExperimentFolder Open(string path, Action<string> say)
    {
        Directory.CreateDirectory(path);
        string lockPath = System.IO.Path.Combine(path, LockFileName);
        FileStream lockFile;
        try
        {
            lockFile = new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e) when (IsLockHeld(e))
        {
            throw new ExperimentFolderInUseException($"another run is using {path} (it holds {lockPath}): wait for it to end or use another --exp-dir");
        }
        var removed = SafetensorsWriter.RemoveStaleTemporaries(path);
        if (removed.Count > 0)
            say($"removed {removed.Count} temporary file{(removed.Count == 1 ? "" : "s")} left in {path} by an interrupted save ({string.Join(", ", removed)})");
        return new ExperimentFolder(path, lockFile);
    }

    public void Dispose() => _lock.Dispose();
}

/// <summary>Another process holds the experiment folder's lock.</summary>
public sealed class ExperimentFolderInUseException(string message) : Exception(message);
