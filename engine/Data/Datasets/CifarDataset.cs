namespace Vicreg.Engine.Data.Datasets;

/// <summary>
/// CIFAR-10 and CIFAR-100 from their binary distributions: records of label byte(s) then 3072 bytes
/// (1024 red, 1024 green, 1024 blue, row-major 32x32), converted to HWC at load.
/// CIFAR-10: data_batch_1..5.bin (train), test_batch.bin. CIFAR-100: train.bin, test.bin, each
/// record with a coarse then a fine label.
/// </summary>
public static class CifarDataset
{
    private const int Side = 32, Plane = Side * Side, ImageBytes = 3 * Plane;

    /// <summary>CIFAR-10's class names in label order, used when batches.meta.txt is absent.</summary>
    public static readonly string[] Cifar10Classes =
        ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

    /// <summary>Per-channel mean and std of the CIFAR-10 training set (the values in common use).</summary>
    public static readonly float[] Cifar10Mean = [0.4914f, 0.4822f, 0.4465f];
    /// <summary>Per-channel (RGB) standard deviation of the CIFAR-10 training set, on the [0, 1] pixel scale.</summary>
    public static readonly float[] Cifar10Std = [0.2470f, 0.2435f, 0.2616f];
    /// <summary>Per-channel (RGB) mean of the CIFAR-100 training set, on the [0, 1] pixel scale.</summary>
    public static readonly float[] Cifar100Mean = [0.5071f, 0.4865f, 0.4409f];
    /// <summary>Per-channel (RGB) standard deviation of the CIFAR-100 training set, on the [0, 1] pixel scale.</summary>
    public static readonly float[] Cifar100Std = [0.2673f, 0.2564f, 0.2762f];

    /// <summary>The folder holding the .bin files: <paramref name="folder"/> itself or its
    /// cifar-10-batches-bin / cifar-100-binary subfolder.</summary>
    private static string Resolve(string folder, string marker, string sub)
    {
        if (!Directory.Exists(folder)) throw new DatasetException($"dataset folder '{folder}' does not exist");
        if (File.Exists(Path.Combine(folder, marker))) return folder;
        string nested = Path.Combine(folder, sub);
        if (File.Exists(Path.Combine(nested, marker))) return nested;
        throw new DatasetException($"'{folder}' holds no {marker} (expected the CIFAR binary version)");
    }

    /// <summary>Loads data_batch_1..5.bin (<paramref name="train"/>) or test_batch.bin from <paramref name="folder"/> or its
    /// cifar-10-batches-bin subfolder into memory (32x32 RGB); a missing folder or file is a <see cref="DatasetException"/>.</summary>
    public static InMemoryImageDataset LoadCifar10(string folder, bool train = true)
    {
        string dir = Resolve(folder, train ? "data_batch_1.bin" : "test_batch.bin", "cifar-10-batches-bin");
        var files = train ? Enumerable.Range(1, 5).Select(i => Path.Combine(dir, $"data_batch_{i}.bin")).ToArray() : [Path.Combine(dir, "test_batch.bin")];
        var classes = ReadNames(Path.Combine(dir, "batches.meta.txt")) ?? Cifar10Classes;
        return Load(files, labelBytes: 1, labelOffset: 0, classes, "CIFAR-10");
    }

    /// <summary>Loads train.bin or test.bin from <paramref name="folder"/> or its cifar-100-binary subfolder, labelled with the
    /// 100 fine classes or, with <paramref name="coarseLabels"/>, the 20 superclasses; errors are <see cref="DatasetException"/>s.</summary>
    public static InMemoryImageDataset LoadCifar100(string folder, bool train = true, bool coarseLabels = false)
    {
        string dir = Resolve(folder, train ? "train.bin" : "test.bin", "cifar-100-binary");
        string file = Path.Combine(dir, train ? "train.bin" : "test.bin");
        var classes = ReadNames(Path.Combine(dir, coarseLabels ? "coarse_label_names.txt" : "fine_label_names.txt"))
                      ?? Enumerable.Range(0, coarseLabels ? 20 : 100).Select(i => $"class_{i}").ToArray();
        return Load([file], labelBytes: 2, labelOffset: coarseLabels ? 0 : 1, classes, "CIFAR-100");
    }

    private static string[]? ReadNames(string path) =>
        File.Exists(path) ? File.ReadAllLines(path).Select(l => l.Trim()).Where(l => l.Length > 0).ToArray() : null;

    private static InMemoryImageDataset Load(string[] files, int labelBytes, int labelOffset, IReadOnlyList<string> classes, string name)
    {
        int record = labelBytes + ImageBytes;
        var blobs = new List<(string File, byte[] Bytes)>();
        long total = 0;
        foreach (var f in files)
        {
            if (!File.Exists(f)) throw new DatasetException($"'{f}' not found");
            var bytes = File.ReadAllBytes(f);
            if (bytes.Length == 0 || bytes.Length % record != 0)
                throw new DatasetException($"{f}: {bytes.Length} bytes is not a whole number of {name} records of {record} bytes");
            blobs.Add((f, bytes));
            total += bytes.Length / record;
        }
        var pixels = new byte[total * ImageBytes];
        var labels = new int[total];
        int n = 0;
        foreach (var (file, blob) in blobs)
        {
            for (int r = 0; r < blob.Length / record; r++, n++)
            {
                var rec = blob.AsSpan(r * record, record);
                labels[n] = rec[labelOffset];
                if (labels[n] >= classes.Count) throw new DatasetException($"{file}: {name} record {r} has label {labels[n]} for {classes.Count} classes (wrong file?)");
                var src = rec[labelBytes..];
                var dst = pixels.AsSpan(n * ImageBytes, ImageBytes);
                for (int p = 0; p < Plane; p++)
                {
                    dst[p * 3] = src[p];
                    dst[p * 3 + 1] = src[Plane + p];
                    dst[p * 3 + 2] = src[2 * Plane + p];
                }
            }
        }
        return new InMemoryImageDataset(pixels, labels, Side, Side, 3, classes, name);
    }
}
