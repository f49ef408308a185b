using System.Buffers.Binary;
using System.IO.Compression;

namespace Vicreg.Engine.Data.Datasets;

/// <summary>
/// MNIST-format datasets (MNIST, Fashion-MNIST) from IDX files, gzip-compressed or plain:
/// an images file (magic 2051: count, rows, cols, then bytes) and a labels file (magic 2049).
/// </summary>
public static class IdxDataset
{
    /// <summary>The big-endian magic number opening an IDX images file (unsigned bytes, 3 dimensions).</summary>
    public const int ImagesMagic = 2051;
    /// <summary>The big-endian magic number opening an IDX labels file (unsigned bytes, 1 dimension).</summary>
    public const int LabelsMagic = 2049;

    /// <summary>Where Debian's dataset-fashion-mnist package installs the files.</summary>
    public const string DebianFashionMnistFolder = "/usr/share/datasets/fashion-mnist";

    /// <summary>The default Fashion-MNIST folder (Debian's package location).</summary>
    public static string DefaultFashionMnistPath() => DebianFashionMnistFolder;

    /// <summary>Fashion-MNIST's ten class names in label order.</summary>
    public static readonly string[] FashionMnistClasses =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    /// <summary>MNIST's classes: the digits "0" to "9".</summary>
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

    /// <summary>The Fashion-MNIST train or test split (28x28 grayscale) from <paramref name="folder"/>, by default Debian's package folder.</summary>
    public static InMemoryImageDataset LoadFashionMnist(string? folder = null, bool train = true) =>
        LoadSplit(folder ?? DefaultFashionMnistPath(), train, FashionMnistClasses);

    /// <summary>The MNIST train or test split (28x28 grayscale) from <paramref name="folder"/>.</summary>
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

    /// <summary>Reads an images and a labels IDX file (gzip or plain) into memory; mismatched counts, a bad magic or a label
    /// outside <paramref name="classes"/> is a <see cref="DatasetException"/>.</summary>
    public static InMemoryImageDataset Load(string imagesPath, string labelsPath, IReadOnlyList<string> classes)
    {
        var (imageDims, pixels) = ReadIdx(imagesPath, ImagesMagic, "images", ["images", "rows", "columns"]);
        var (labelDims, labelBytes) = ReadIdx(labelsPath, LabelsMagic, "labels", ["labels"]);
        int count = imageDims[0], rows = imageDims[1], cols = imageDims[2];
        if (labelDims[0] != count) throw new DatasetException($"{labelsPath}: {labelDims[0]} labels for {count} images in {imagesPath}");
        var labels = new int[count];
        for (int i = 0; i < count; i++)
        {
            labels[i] = labelBytes[i];
            if (labels[i] >= classes.Count) throw new DatasetException($"{labelsPath}: label {labels[i]} of image {i} is outside the {classes.Count} classes (wrong file?)");
        }
        return new InMemoryImageDataset(pixels, labels, cols, rows, 1, classes, Path.GetFileName(imagesPath));
    }

    /// <summary>Deflate's densest output: 258 bytes from a 2-bit code. No gzip file inflates to more than this many times its size.</summary>
    private const long MaxDeflateRatio = 1032;

    /// <summary>
    /// Reads an IDX file, gzip-compressed or plain (told apart by the gzip magic, whatever the name): its
    /// magic, then one big-endian size per dimension, then exactly the bytes those sizes announce, and no more:
    /// the data are allocated once from the header and never inflated past it, and a header announcing more
    /// than the file can hold (plain: its length; gzip: 1032 times it) is refused before anything is allocated.
    /// </summary>
    private static (int[] Dims, byte[] Data) ReadIdx(string path, int magic, string what, string[] dimNames)
    {
        if (!File.Exists(path)) throw new DatasetException($"'{path}' not found");
        try
        {
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16);
            long fileLength = file.Length;
            Span<byte> start = stackalloc byte[2];
            bool gzip = ReadFully(file, start) == 2 && start[0] == 0x1F && start[1] == 0x8B;
            file.Position = 0;
            using Stream input = gzip ? new GZipStream(file, CompressionMode.Decompress) : file;

            var header = new byte[4 + 4 * dimNames.Length];
            int got = ReadFully(input, header);
            if (got < 4) throw new DatasetException($"{path}: truncated IDX file ({fileLength} bytes)");
            int found = BinaryPrimitives.ReadInt32BigEndian(header);
            if (found != magic) throw new DatasetException($"{path}: wrong IDX magic {found} (expected {magic} for {what})");
            if (got < header.Length) throw new DatasetException($"{path}: truncated IDX file (header of {got} bytes)");
            var dims = new int[dimNames.Length];
            long bytes = 1;
            for (int d = 0; d < dims.Length; d++)
            {
                dims[d] = BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(4 + 4 * d));
                if (dims[d] < (d == 0 ? 0 : 1)) throw new DatasetException($"{path}: IDX header announces {dims[d]} {dimNames[d]}");
                bytes *= dims[d]; // at most three factors below 2^31: no overflow before the check below
                if (bytes > Array.MaxLength) throw new DatasetException($"{path}: IDX header announces {Announced(dims, d + 1, dimNames)}, more than {Array.MaxLength:N0} bytes (corrupt header?)");
            }
            long most = gzip ? fileLength * MaxDeflateRatio : fileLength - header.Length;
            if (bytes > most)
                throw new DatasetException($"{path}: truncated IDX file ({Announced(dims, dims.Length, dimNames)} announced: {bytes:N0} bytes, " +
                                           $"{(gzip ? $"more than {fileLength:N0} compressed bytes can hold" : $"the file holds {fileLength - header.Length:N0}")})");
            var data = GC.AllocateUninitializedArray<byte>((int)bytes);
            got = ReadFully(input, data);
            if (got < bytes) throw new DatasetException($"{path}: truncated IDX file ({Announced(dims, dims.Length, dimNames)} announced: {bytes:N0} bytes, it holds {got:N0})");
            return (dims, data);
        }
        catch (InvalidDataException)
        {
            // .NET reports any damaged deflate stream as "an unsupported compression method".
            throw new DatasetException($"{path}: corrupt gzip data (the file is damaged)");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DatasetException($"{path}: cannot read: {e.Message}", e);
        }
    }

    private static string Announced(int[] dims, int count, string[] names) =>
        string.Join(" x ", Enumerable.Range(0, count).Select(d => $"{dims[d]} {names[d]}"));

    private static int ReadFully(Stream input, Span<byte> buffer)
    {
        int done = 0;
        while (done < buffer.Length)
        {
            int n = input.Read(buffer[done..]);
            if (n == 0) break;
            done += n;
        }
        return done;
    }
}
