using System.IO.Compression;
using Vicreg.Engine.Data;

namespace Vicreg.Datasets;

/// <summary>
/// Which data set a --data-dir holds, for a command line that names none (a paper's command line gives
/// only --data-dir): CIFAR binaries (cifar10: data_batch_N.bin / test_batch.bin; cifar100: train.bin /
/// test.bin; in the folder or its cifar-10-batches-bin / cifar-100-binary subfolder), IDX files (mnist or
/// fashion-mnist: by the folder's name, else by their content), or class folders under train/ or val/
/// (imagefolder). Looks at names and, for IDX files, at the first images' pixels; reads nothing else.
/// </summary>
public static class DatasetDetection
{
    /// <summary>The data set's name and what it was told by, or a <see cref="DatasetException"/> line.</summary>
    public static (string Name, string Evidence) Detect(string dataDir)
    {
        if (!Directory.Exists(dataDir)) throw new DatasetException($"--data-dir '{dataDir}' does not exist");
        if (HasFile(dataDir, "cifar-10-batches-bin", "data_batch_1.bin", "test_batch.bin") is { } cifar10) return ("cifar10", $"CIFAR-10 binaries ({cifar10})");
        if (HasFile(dataDir, "cifar-100-binary", "train.bin", "test.bin") is { } cifar100) return ("cifar100", $"CIFAR-100 binaries ({cifar100})");
        if (IdxImages(dataDir) is { } idx) return IdxKind(dataDir, idx);
        foreach (var split in (ReadOnlySpan<string>)["train", "val"])
        {
            string folder = Path.Combine(dataDir, split);
            if (Directory.Exists(folder) && Directory.EnumerateDirectories(folder).Any())
                return ("imagefolder", $"class folders under {split}/");
        }
        throw new DatasetException($"cannot tell which data set --data-dir '{dataDir}' holds (no class folders under train/ or val/, " +
            $"no IDX files, no CIFAR binaries); name it with --dataset ({string.Join(", ", DatasetCatalog.Names)})");
    }

    /// <summary>The first of <paramref name="names"/> found in the folder or in its <paramref name="subfolder"/>.</summary>
    private static string? HasFile(string dataDir, string subfolder, params string[] names)
    {
        foreach (var folder in (ReadOnlySpan<string>)[dataDir, Path.Combine(dataDir, subfolder)])
            foreach (var name in names)
                if (File.Exists(Path.Combine(folder, name))) return Path.GetRelativePath(dataDir, Path.Combine(folder, name));
        return null;
    }

    private static string? IdxImages(string dataDir)
    {
        foreach (var prefix in (ReadOnlySpan<string>)["train", "t10k"])
            foreach (var name in (ReadOnlySpan<string>)["-images-idx3-ubyte.gz", "-images-idx3-ubyte", "-images.idx3-ubyte.gz", "-images.idx3-ubyte"])
                if (File.Exists(Path.Combine(dataDir, prefix + name))) return Path.Combine(dataDir, prefix + name);
        return null;
    }

    /// <summary>
    /// MNIST and Fashion-MNIST share the IDX format, file names and image size. A folder named after one of
    /// them says which; otherwise the pixels do: handwritten digits are thin strokes on black (mean pixel
    /// 0.13 of white over the training set), clothes fill much of their square (0.29). The first 1000 images
    /// are split at 0.2, far from both.
    /// </summary>
    private static (string Name, string Evidence) IdxKind(string dataDir, string images)
    {
        string folderName = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(dataDir))).ToLowerInvariant();
        if (folderName.Contains("fashion", StringComparison.Ordinal)) return ("fashion-mnist", "IDX files in a folder named fashion");
        if (folderName.Contains("mnist", StringComparison.Ordinal)) return ("mnist", "IDX files in a folder named mnist");
        double mean = MeanPixel(images, 1000);
        return mean >= 0.2
            ? ("fashion-mnist", $"IDX images of mean brightness {mean:F2}: clothes, not digits")
            : ("mnist", $"IDX images of mean brightness {mean:F2}: digits, not clothes");
    }

    /// <summary>The mean pixel (0 to 1) of the first <paramref name="count"/> images of an IDX image file.</summary>
    private static double MeanPixel(string path, int count)
    {
        try
        {
            using Stream file = File.OpenRead(path);
            using Stream data = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? new GZipStream(file, CompressionMode.Decompress) : file;
            var header = new byte[16];
            data.ReadExactly(header);
            var pixels = new byte[count * 28 * 28];
            int read = data.ReadAtLeast(pixels, pixels.Length, throwOnEndOfStream: false);
            if (read == 0) throw new DatasetException($"'{path}' holds no images");
            long sum = 0;
            for (int i = 0; i < read; i++) sum += pixels[i];
            return sum / (255.0 * read);
        }
        catch (Exception e) when (e is EndOfStreamException or InvalidDataException)
        {
            throw new DatasetException($"'{path}' is not a readable IDX image file ({e.Message})");
        }
    }
}
