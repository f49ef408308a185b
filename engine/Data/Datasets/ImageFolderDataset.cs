using Microsoft.Win32.SafeHandles;
using Vicreg.Engine.Data.Decoding;

namespace Vicreg.Engine.Data.Datasets;

/// <summary>
/// torchvision's ImageFolder: one subfolder per class, classes sorted by name (ordinal), the images
/// under each (recursively) with extension .jpg/.jpeg/.png in any case, ordered by path. Decoded as
/// RGB (or gray). Files are read with positional reads into the caller's scratch buffer.
/// </summary>
public sealed class ImageFolderDataset : IImageDataset
{
    private static readonly string[] Extensions = [".jpg", ".jpeg", ".png"];
    private readonly string[] _paths;
    private readonly int[] _labels;

    public ImageFolderDataset(string root, int channels = 3)
    {
        if (channels is not (1 or 3)) throw new ArgumentOutOfRangeException(nameof(channels));
        if (!Directory.Exists(root)) throw new DatasetException($"image folder '{root}' does not exist");
        Root = root;
        Channels = channels;
        var classDirs = Directory.GetDirectories(root).Select(Path.GetFileName).OfType<string>().ToList();
        classDirs.Sort(StringComparer.Ordinal);
        if (classDirs.Count == 0) throw new DatasetException($"image folder '{root}' has no class subfolders (expected one folder per class)");
        var paths = new List<string>();
        var labels = new List<int>();
        for (int c = 0; c < classDirs.Count; c++)
        {
            string dir = Path.Combine(root, classDirs[c]);
            var files = Directory.EnumerateFiles(dir, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 })
                .Where(IsImageFile)
                .ToList();
            if (files.Count == 0) throw new DatasetException($"class folder '{dir}' holds no .jpg/.jpeg/.png images");
            files.Sort(ComparePaths);
            paths.AddRange(files);
            labels.AddRange(Enumerable.Repeat(c, files.Count));
        }
        Classes = classDirs;
        _paths = [.. paths];
        _labels = [.. labels];
    }

    /// <summary>The train/ or val/ split of a --data-dir.</summary>
    public static ImageFolderDataset OpenSplit(string dataDir, string split, int channels = 3)
    {
        if (!Directory.Exists(dataDir)) throw new DatasetException($"--data-dir '{dataDir}' does not exist");
        string folder = Path.Combine(dataDir, split);
        if (!Directory.Exists(folder)) throw new DatasetException($"--data-dir '{dataDir}' has no '{split}' subfolder");
        return new ImageFolderDataset(folder, channels);
    }

    private static bool IsImageFile(string path)
    {
        string ext = Path.GetExtension(path);
        foreach (var e in Extensions)
            if (ext.Equals(e, StringComparison.OrdinalIgnoreCase)) return true;
        return false;
    }

    /// <summary>Directory first, then file name, ordinal: the order of torchvision's sorted os.walk.</summary>
    private static int ComparePaths(string a, string b)
    {
        int d = string.CompareOrdinal(Path.GetDirectoryName(a), Path.GetDirectoryName(b));
        return d != 0 ? d : string.CompareOrdinal(Path.GetFileName(a), Path.GetFileName(b));
    }

    public string Root { get; }
    public int Count => _paths.Length;
    public IReadOnlyList<string> Classes { get; }
    public int Channels { get; }
    public int Label(int index) => _labels[index];
    public string FilePath(int index) => _paths[index];
    public string Describe(int index) => _paths[index];

    public void Read(int index, ImageBuffer destination, ref byte[] scratch, IDecodeScaleChooser? scale = null)
    {
        int length = ReadFile(_paths[index], ref scratch);
        ImageDecoder.Decode(scratch.AsSpan(0, length), destination, Channels, scale);
    }

    /// <summary>Reads a whole file into the scratch buffer (grown as needed); returns its length.</summary>
    internal static int ReadFile(string path, ref byte[] scratch)
    {
        try
        {
            using SafeFileHandle handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.None);
            long length = RandomAccess.GetLength(handle);
            if (length > int.MaxValue) throw new ImageDecodeException($"file of {length} bytes is too large");
            if (scratch.Length < length) scratch = GC.AllocateUninitializedArray<byte>((int)Math.Max(length, scratch.Length * 3L / 2));
            int done = 0;
            while (done < length)
            {
                int n = RandomAccess.Read(handle, scratch.AsSpan(done, (int)length - done), done);
                if (n == 0) break;
                done += n;
            }
            return done;
        }
        catch (IOException e)
        {
            throw new ImageDecodeException($"cannot read file: {e.Message}", e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new ImageDecodeException($"cannot read file: {e.Message}", e);
        }
    }
}
