using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Vicreg.Engine.Data.Datasets;

/// <summary>
/// Listing folders and reading files by the bytes of their names, through libc (Linux). .NET's own file
/// API decodes names as UTF-8 and cannot open a file whose name is not (it turns the stray bytes into
/// U+FFFD), and it opens a FIFO with a blocking open() that waits for a writer for ever. Here a file is
/// opened non-blocking and read only when it is a regular file.
/// </summary>
internal static unsafe partial class NativeFileSystem
{
    private const string LibC = "libc.so.6";
    private const int OpenReadOnlyNonBlocking = 0x800 /* O_NONBLOCK */ | 0x100 /* O_NOCTTY */ | 0x80000 /* O_CLOEXEC */;
    private const int AtCurrentDirectory = -100, AtEmptyPath = 0x1000;
    private const uint StatxTypeSizeInode = 0x1 | 0x200 | 0x100;
    private const int TypeMask = 0xF000, TypeDirectory = 0x4000, TypeRegular = 0x8000;
    private const byte DirentDirectory = 4, DirentRegular = 8, DirentLink = 10, DirentUnknown = 0;
    private const int DirentTypeOffset = 18, DirentNameOffset = 19; // struct dirent of 64-bit glibc

    /// <summary>struct statx: one layout on every Linux architecture.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 256)]
    private struct Statx
    {
        [FieldOffset(28)] public ushort Mode;
        [FieldOffset(32)] public ulong Inode;
        [FieldOffset(40)] public ulong Size;
        [FieldOffset(136)] public uint DeviceMajor;
        [FieldOffset(140)] public uint DeviceMinor;
    }

    [LibraryImport(LibC, EntryPoint = "open", SetLastError = true)]
    private static partial int OpenFile(byte* path, int flags);

    [LibraryImport(LibC, EntryPoint = "statx", SetLastError = true)]
    private static partial int StatxCall(int directory, byte* path, int flags, uint mask, Statx* result);

    [LibraryImport(LibC, EntryPoint = "opendir", SetLastError = true)]
    private static partial nint OpenDirectory(byte* path);

    [LibraryImport(LibC, EntryPoint = "readdir", SetLastError = true)]
    private static partial byte* ReadDirectory(nint directory);

    [LibraryImport(LibC, EntryPoint = "closedir")]
    private static partial int CloseDirectory(nint directory);

    private static string LastError() => Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError());

    private static byte[] Terminated(ReadOnlySpan<byte> path)
    {
        var z = new byte[path.Length + 1];
        path.CopyTo(z);
        return z;
    }

    /// <summary>One folder entry: its name, and whether it is a folder (symbolic links followed).</summary>
    public readonly record struct Entry(byte[] Name, bool IsDirectory);

    /// <summary>The entries of a folder but "." and "..", in the order the file system gives them.</summary>
    public static List<Entry> List(byte[] folder)
    {
        nint dir;
        fixed (byte* p = Terminated(folder)) dir = OpenDirectory(p);
        if (dir == 0) throw new DatasetException($"cannot list folder '{PathText.Display(folder)}': {LastError()}");
        var entries = new List<Entry>();
        try
        {
            while (true)
            {
                byte* d = ReadDirectory(dir);
                if (d == null)
                {
                    if (Marshal.GetLastPInvokeError() != 0) throw new DatasetException($"cannot list folder '{PathText.Display(folder)}': {LastError()}");
                    break;
                }
                var name = MemoryMarshal.CreateReadOnlySpanFromNullTerminated(d + DirentNameOffset);
                if (name.SequenceEqual("."u8) || name.SequenceEqual(".."u8)) continue;
                byte type = d[DirentTypeOffset];
                bool isDirectory = type switch
                {
                    DirentDirectory => true,
                    DirentLink or DirentUnknown => IsDirectory(PathText.Join(folder, name)),
                    _ => false,
                };
                entries.Add(new Entry(name.ToArray(), isDirectory));
            }
        }
        finally
        {
            CloseDirectory(dir);
        }
        return entries;
    }

    /// <summary>Whether the path names a folder (following links); false when it names nothing.</summary>
    public static bool IsDirectory(byte[] path) => TryIdentifyDirectory(path, out _);

    /// <summary>A folder's identity (device and inode), to notice a link that leads back to a folder being walked.</summary>
    public static bool TryIdentifyDirectory(byte[] path, out (uint Major, uint Minor, ulong Inode) identity)
    {
        Statx s = default;
        int r;
        fixed (byte* p = Terminated(path)) r = StatxCall(AtCurrentDirectory, p, 0, StatxTypeSizeInode, &s);
        identity = (s.DeviceMajor, s.DeviceMinor, s.Inode);
        return r == 0 && (s.Mode & TypeMask) == TypeDirectory;
    }

    /// <summary>What a path names, links followed.</summary>
    internal enum PathKind { Missing, Directory, RegularFile, Other }

    /// <summary>What <paramref name="path"/> names; <paramref name="description"/> says what an <see cref="PathKind.Other"/>
    /// is (a FIFO, a device) or why a <see cref="PathKind.Missing"/> one could not be examined.</summary>
    public static PathKind Examine(byte[] path, out string description)
    {
        Statx s = default;
        int r;
        fixed (byte* p = Terminated(path)) r = StatxCall(AtCurrentDirectory, p, 0, StatxTypeSizeInode, &s);
        if (r != 0)
        {
            description = LastError();
            return PathKind.Missing;
        }
        description = Kind(s.Mode);
        return (s.Mode & TypeMask) switch
        {
            TypeDirectory => PathKind.Directory,
            TypeRegular => PathKind.RegularFile,
            _ => PathKind.Other,
        };
    }

    /// <summary>
    /// The first bytes of a regular file (up to the length of <paramref name="buffer"/>), to tell its format by
    /// content; -1 when the path is not a regular file or cannot be opened (opening never blocks on a FIFO).
    /// </summary>
    public static int ReadStart(byte[] path, Span<byte> buffer)
    {
        int fd;
        fixed (byte* p = Terminated(path)) fd = OpenFile(p, OpenReadOnlyNonBlocking);
        if (fd < 0) return -1;
        using var handle = new SafeFileHandle(fd, ownsHandle: true);
        Statx s = default;
        byte emptyPath = 0;
        if (StatxCall(fd, &emptyPath, AtEmptyPath, StatxTypeSizeInode, &s) != 0 || (s.Mode & TypeMask) != TypeRegular) return -1;
        try
        {
            int done = 0;
            while (done < buffer.Length)
            {
                int n = RandomAccess.Read(handle, buffer[done..], done);
                if (n == 0) break;
                done += n;
            }
            return done;
        }
        catch (IOException)
        {
            return -1;
        }
    }

    /// <summary>
    /// Reads a whole regular file into <paramref name="scratch"/> (grown as needed) and returns its length.
    /// Anything else (a FIFO, a device, a folder, a file that cannot be opened) is an <see cref="ImageDecodeException"/>.
    /// </summary>
    public static int ReadRegularFile(byte[] path, ref byte[] scratch)
    {
        int fd;
        fixed (byte* p = Terminated(path)) fd = OpenFile(p, OpenReadOnlyNonBlocking);
        if (fd < 0) throw new ImageDecodeException($"cannot open file: {LastError()}");
        using var handle = new SafeFileHandle(fd, ownsHandle: true);
        Statx s = default;
        byte emptyPath = 0;
        if (StatxCall(fd, &emptyPath, AtEmptyPath, StatxTypeSizeInode, &s) != 0)
            throw new ImageDecodeException($"cannot examine file: {LastError()}");
        if ((s.Mode & TypeMask) != TypeRegular) throw new ImageDecodeException($"not a regular file ({Kind(s.Mode)})");
        if (s.Size > (ulong)Array.MaxLength) throw new ImageDecodeException($"file of {s.Size:N0} bytes is too large");
        int length = (int)s.Size;
        if (scratch.Length < length) scratch = GC.AllocateUninitializedArray<byte>((int)Math.Max(length, Math.Min(scratch.Length * 3L / 2, Array.MaxLength)));
        int done = 0;
        try
        {
            while (done < length)
            {
                int n = RandomAccess.Read(handle, scratch.AsSpan(done, length - done), done);
                if (n == 0) break;
                done += n;
            }
        }
        catch (IOException e)
        {
            throw new ImageDecodeException($"cannot read file: {e.Message}", e);
        }
        return done;
    }

    private static string Kind(int mode) => (mode & TypeMask) switch
    {
        0x1000 => "a FIFO",
        0x2000 => "a character device",
        0x4000 => "a folder",
        0x6000 => "a block device",
        0xC000 => "a socket",
        _ => $"file type {mode & TypeMask:x}",
    };
}
