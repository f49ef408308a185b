using Vicreg.Engine.Data.Decoding;

namespace Vicreg.Engine.Data.Datasets;

/// <summary>
/// The image files that a list of paths names, in order (what <c>vicreg embed --images</c> embeds). Each path is
/// <list type="bullet">
/// <item>a JPEG or PNG file (told by its first bytes, whatever its name): that image;</item>
/// <item>a folder: the JPEG and PNG files under it (by content), recursively, ordered as <see cref="FolderWalk"/>
/// orders them; other files are ignored and counted;</item>
/// <item>a text file (no control characters but tab, CR and LF): a list of image files, one path per line, a
/// relative one relative to the list's folder (blank lines and a trailing CR are ignored). A listed file is taken
/// as it is: one that is missing or not an image becomes a skipped sample when it is read;</item>
/// <item>any other file: an image file all the same, which will be skipped as unreadable with the reason.</item>
/// </list>
/// A path that names nothing, a FIFO or a device, a folder without images, or an empty list is a
/// <see cref="DatasetException"/>.
/// </summary>
public sealed class ImageFileList
{
    private const int SignatureBytes = 8;
    /// <summary>How much of a named file is looked at before reading it whole as a list: a large image or video is
    /// told from text by its first bytes.</summary>
    private const int TextProbeBytes = 4096;

    private ImageFileList(List<byte[]> files, int ignored)
    {
        Files = files;
        Ignored = ignored;
    }

    /// <summary>The image files, in the order the paths name them.</summary>
    public IReadOnlyList<byte[]> Files { get; }

    /// <summary>Files found in folders that are neither JPEG nor PNG (or that could not be opened to tell).</summary>
    public int Ignored { get; }

    /// <summary>Expands <paramref name="paths"/> (images, folders, list files) as described above, in order; a path that names
    /// nothing usable is a <see cref="DatasetException"/>.</summary>
    public static ImageFileList Collect(IEnumerable<string> paths)
    {
        var files = new List<byte[]>();
        int ignored = 0;
        var start = new byte[TextProbeBytes];
        foreach (string path in paths)
        {
            byte[] bytes = PathText.Bytes(path);
            switch (NativeFileSystem.Examine(bytes, out string what))
            {
                case NativeFileSystem.PathKind.Missing:
                    throw new DatasetException($"'{path}': {what}");
                case NativeFileSystem.PathKind.Other:
                    throw new DatasetException($"'{path}' is {what}, not an image, a folder or a list of paths");
                case NativeFileSystem.PathKind.Directory:
                {
                    int before = ignored;
                    var found = FolderWalk.Files(bytes, (folder, name) =>
                    {
                        bool image = IsImage(PathText.Join(folder, name));
                        if (!image) ignored++;
                        return image;
                    });
                    if (found.Count == 0)
                        throw new DatasetException($"folder '{path}' holds no JPEG or PNG files ({ignored - before} other files)");
                    files.AddRange(found);
                    break;
                }
                default:
                {
                    var head = start.AsSpan(0, Math.Max(0, NativeFileSystem.ReadStart(bytes, start)));
                    if (!head.IsEmpty && !IsImage(head) && IsText(head) && ReadList(bytes, path) is { } listed) files.AddRange(listed);
                    else files.Add(bytes);
                    break;
                }
            }
        }
        return new ImageFileList(files, ignored);
    }

    private static bool IsImage(byte[] path)
    {
        Span<byte> start = stackalloc byte[SignatureBytes];
        return IsImage(start[..Math.Max(0, NativeFileSystem.ReadStart(path, start))]);
    }

    private static bool IsImage(ReadOnlySpan<byte> start) => JpegDecoder.IsJpeg(start) || PngDecoder.IsPng(start);

    /// <summary>No control characters but tab, CR and LF (a path list; an image or other binary file has some).</summary>
    private static bool IsText(ReadOnlySpan<byte> content)
    {
        foreach (byte b in content)
            if (b < 0x20 && b is not ((byte)'\t' or (byte)'\n' or (byte)'\r') || b == 0x7F) return false;
        return true;
    }

    /// <summary>The files a text list names; null when the file is not text (then it is an image that will not decode).</summary>
    private static List<byte[]>? ReadList(byte[] listPath, string path)
    {
        byte[] text = [];
        int length;
        try
        {
            length = NativeFileSystem.ReadRegularFile(listPath, ref text);
        }
        catch (ImageDecodeException e)
        {
            throw new DatasetException($"'{path}': {e.Message}");
        }
        var content = text.AsSpan(0, length);
        if (!IsText(content)) return null;
        int slash = listPath.AsSpan().LastIndexOf((byte)'/');
        byte[] folder = slash < 0 ? [] : listPath[..(slash + 1)];
        var files = new List<byte[]>();
        foreach (var range in content.Split((byte)'\n'))
        {
            var line = content[range];
            if (line.EndsWith("\r"u8)) line = line[..^1];
            if (line.IsEmpty) continue;
            files.Add(line[0] == (byte)'/' || folder.Length == 0 ? line.ToArray() : PathText.Join(folder, line));
        }
        if (files.Count == 0) throw new DatasetException($"list '{path}' names no files");
        return files;
    }
}
