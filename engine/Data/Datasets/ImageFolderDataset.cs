using Vicreg.Engine.Data.Decoding;

namespace Vicreg.Engine.Data.Datasets;

/// <summary>
/// torchvision's ImageFolder: one subfolder per class, classes sorted by name, the images under each
/// (recursively, following links: <see cref="FolderWalk"/>) with extension .jpg/.jpeg/.png in any case, ordered by folder then
/// file name; names compare by their bytes, which is Python's code-point order. Decoded as RGB (or gray).
/// <para>
/// Files are listed and opened by the bytes of their names (<see cref="NativeFileSystem"/>), so a name
/// that is not UTF-8 still works; only regular files are read (a FIFO or device named like an image is an
/// unreadable sample, not a hang). An image announcing more than <see cref="MaxPixels"/> pixels is refused
/// from its header.
/// </para>
/// </summary>
public sealed class ImageFolderDataset : IImageDataset
{
    private static readonly byte[][] Extensions = [".jpg"u8.ToArray(), ".jpeg"u8.ToArray(), ".png"u8.ToArray()];
    private readonly byte[][] _paths;
    private readonly int[] _labels;

    /// <summary>Lists the class folders and images under <paramref name="root"/> (files are read later, one per <see cref="Read"/>);
    /// <paramref name="channels"/> is 1 or 3. A missing root, no class folders or an empty class is a <see cref="DatasetException"/>.</summary>
    public ImageFolderDataset(string root, int channels = 3, long maxPixels = ImageLimits.DefaultMaxPixels)
    {
        if (channels is not (1 or 3)) throw new ArgumentOutOfRangeException(nameof(channels));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxPixels);
        if (!Directory.Exists(root)) throw new DatasetException($"image folder '{root}' does not exist");
        Root = root;
        Channels = channels;
        MaxPixels = maxPixels;
        byte[] rootBytes = PathText.Bytes(root);
        var classDirs = NativeFileSystem.List(rootBytes).Where(e => e.IsDirectory).Select(e => e.Name).ToList();
        classDirs.Sort(FolderWalk.CompareBytes);
        if (classDirs.Count == 0) throw new DatasetException($"image folder '{root}' has no class subfolders (expected one folder per class)");
        var paths = new List<byte[]>();
        var labels = new List<int>();
        for (int c = 0; c < classDirs.Count; c++)
        {
            byte[] dir = PathText.Join(rootBytes, classDirs[c]);
            int before = paths.Count;
            paths.AddRange(FolderWalk.Files(dir, (_, name) => IsImageFile(name)));
            if (paths.Count == before) throw new DatasetException($"class folder '{PathText.Display(dir)}' holds no .jpg/.jpeg/.png images");
            labels.AddRange(Enumerable.Repeat(c, paths.Count - before));
        }
        Classes = classDirs.Select(n => PathText.Display(n)).ToList();
        _paths = [.. paths];
        _labels = [.. labels];
    }

    /// <summary>The train/ or val/ split of a --data-dir.</summary>
    public static ImageFolderDataset OpenSplit(string dataDir, string split, int channels = 3, long maxPixels = ImageLimits.DefaultMaxPixels)
    {
        if (!Directory.Exists(dataDir)) throw new DatasetException($"--data-dir '{dataDir}' does not exist");
        string folder = Path.Combine(dataDir, split);
        if (!Directory.Exists(folder)) throw new DatasetException($"--data-dir '{dataDir}' has no '{split}' subfolder");
        return new ImageFolderDataset(folder, channels, maxPixels);
    }

    private static bool IsImageFile(ReadOnlySpan<byte> name)
    {
        int dot = name.LastIndexOf((byte)'.');
        if (dot < 0) return false;
        var ext = name[dot..];
        foreach (var e in Extensions)
            if (System.Text.Ascii.EqualsIgnoreCase(ext, e)) return true;
        return false;
    }

    /// <summary>The folder whose subfolders are the classes, as given.</summary>
    public string Root { get; }
    /// <inheritdoc/>
    public int Count => _paths.Length;
    /// <inheritdoc/>
    public IReadOnlyList<string> Classes { get; }
    /// <inheritdoc/>
    public int Channels { get; }
    /// <summary>Images announcing more pixels than this are refused from their header (--max-image-pixels).</summary>
    public long MaxPixels { get; }
    /// <inheritdoc/>
    public int Label(int index) => _labels[index];
    /// <summary>The file's path as text (see <see cref="PathText"/>).</summary>
    public string FilePath(int index) => PathText.Display(_paths[index]);
    /// <inheritdoc/>
    public string Describe(int index) => FilePath(index);

    /// <inheritdoc/>
    public void Read(int index, ImageBuffer destination, ref byte[] scratch, IDecodeScaleChooser? scale = null)
    {
        int length = NativeFileSystem.ReadRegularFile(_paths[index], ref scratch);
        ImageDecoder.Decode(scratch.AsSpan(0, length), destination, Channels, scale, MaxPixels);
    }
}
