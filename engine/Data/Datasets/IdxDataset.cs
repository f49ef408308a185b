using System.Buffers.Binary;
using System.IO.Compression;

namespace Vicreg.Engine.Data.Datasets;

/// <summary>
/// MNIST-format datasets (MNIST, Fashion-MNIST) from IDX files, gzip-compressed or plain:
/// an images file (magic 2051: count, rows, cols, then bytes) and a labels file (magic 2049).
/// </summary>
public static class IdxDataset
{
    public const int ImagesMagic = 2051;
    public const int LabelsMagic = 2049;

    /// <summary>Where Debian's dataset-fashion-mnist package installs the files.</summary>
    public const string DebianFashionMnistFolder = "/usr/share/datasets/fashion-mnist";

    /// <summary>The default Fashion-MNIST folder (Debian's package location).</summary>
    public static string DefaultFashionMnistPath() => DebianFashionMnistFolder;

    public static readonly string[] FashionMnistClasses =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    public static readonly string[] MnistClasses = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

    /// <summary>
    /// Loads the train (train-images-idx3-ubyte[.gz]) or test (t10k-...) split from a folder.
    /// </summary>
    public static InMemoryImageDataset LoadSplit(string folder, bool train, IReadOnlyList<string> classes)
    {
        if (!Directory.Exists(folder)) throw new DatasetException($"dataset folder '{folder}' does not exist");
        string prefix = train ? "train" : "t10k";
        string images = FindFile(folder, $"{prefix}-images-idx3-ubyte");
        string labels = FindFile(folder, $"{prefix}-labels-idx1-ubyte");
        return Load(images, labels, classes);
    }

    public static InMemoryImageDataset LoadFashionMnist(string? folder = null, bool train = true) =>
        LoadSplit(folder ?? DefaultFashionMnistPath(), train, FashionMnistClasses);

    public static InMemoryImageDataset LoadMnist(string folder, bool train = true) => LoadSplit(folder, train, MnistClasses);

    private static string FindFile(string folder, string name)
    {
        foreach (var candidate in new[] { name + ".gz", name, name.Replace("-idx", ".idx") + ".gz", name.Replace("-idx", ".idx") })
        {
            string p = Path.Combine(folder, candidate);
            if (File.Exists(p)) return p;
        }
        throw new DatasetException($"'{Path.Combine(folder, name)}[.gz]' not found");
    }

    public static InMemoryImageDataset Load(string imagesPath, string labelsPath, IReadOnlyList<string> classes)
    {
        byte[] imageBytes = ReadMaybeGzip(imagesPath);
        byte[] labelBytes = ReadMaybeGzip(labelsPath);
        int magic = ReadInt(imageBytes, 0, imagesPath);
        if (magic != ImagesMagic) throw new DatasetException($"{imagesPath}: wrong IDX magic {magic} (expected {ImagesMagic} for images)");
        int count = ReadInt(imageBytes, 4, imagesPath), rows = ReadInt(imageBytes, 8, imagesPath), cols = ReadInt(imageBytes, 12, imagesPath);
        if (count < 0 || rows <= 0 || cols <= 0 || 16 + (long)count * rows * cols > imageBytes.Length)
            throw new DatasetException($"{imagesPath}: truncated IDX file ({count} images of {rows}x{cols} announced, {imageBytes.Length} bytes)");
        int labelMagic = ReadInt(labelBytes, 0, labelsPath);
        if (labelMagic != LabelsMagic) throw new DatasetException($"{labelsPath}: wrong IDX magic {labelMagic} (expected {LabelsMagic} for labels)");
        int labelCount = ReadInt(labelBytes, 4, labelsPath);
        if (labelCount != count) throw new DatasetException($"{labelsPath}: {labelCount} labels for {count} images in {imagesPath}");
        if (8 + (long)labelCount > labelBytes.Length) throw new DatasetException($"{labelsPath}: truncated IDX file");
        var pixels = imageBytes.AsSpan(16, count * rows * cols).ToArray();
        var labels = new int[count];
        for (int i = 0; i < count; i++) labels[i] = labelBytes[8 + i];
        return new InMemoryImageDataset(pixels, labels, cols, rows, 1, classes, Path.GetFileName(imagesPath));
    }

    private static int ReadInt(byte[] data, int offset, string path)
    {
        if (data.Length < offset + 4) throw new DatasetException($"{path}: truncated IDX file ({data.Length} bytes)");
        return BinaryPrimitives.ReadInt32BigEndian(data.AsSpan(offset));
    }

    /// <summary>The file's bytes, gunzipped when it starts with the gzip magic (whatever its name).</summary>
    public static byte[] ReadMaybeGzip(string path)
    {
        if (!File.Exists(path)) throw new DatasetException($"'{path}' not found");
        byte[] raw = File.ReadAllBytes(path);
        if (raw.Length < 2 || raw[0] != 0x1F || raw[1] != 0x8B) return raw;
        try
        {
            using var input = new MemoryStream(raw);
            using var gz = new GZipStream(input, CompressionMode.Decompress);
            using var output = new MemoryStream(raw.Length * 4);
            gz.CopyTo(output);
            return output.ToArray();
        }
        catch (InvalidDataException e)
        {
            throw new DatasetException($"{path}: corrupt gzip data ({e.Message})", e);
        }
    }
}
