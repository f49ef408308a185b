using Vicreg.Augment;
using Vicreg.Engine.Data;
using Vicreg.Engine.Data.Datasets;

namespace Vicreg.Training;

/// <summary>One split of a data set, with what the model and the transforms need to know about it.</summary>
public sealed record DatasetSplit(IImageDataset Dataset, int ImageSize, int Channels, DatasetNormalization Normalization, bool IsSmall)
{
    /// <summary>The two pretraining views (VICREG.md: the official recipe for photographs, the small-image one otherwise).</summary>
    public IImageTransform[] PretrainViews() => IsSmall
        ? VicregAugmentations.SmallImageTwoViews(ImageSize, Normalization)
        : VicregAugmentations.ImageNetTwoViews(ImageSize);

    /// <summary>The deterministic evaluation transform (normalisation only for small images; resize + centre crop otherwise).</summary>
    public IImageTransform EvaluationView() => IsSmall
        ? VicregAugmentations.SmallImageEvaluation(ImageSize, Normalization)
        : VicregAugmentations.Evaluation(ImageSize, Normalization);
}

/// <summary>
/// The --dataset choices: fashion-mnist (the default; Debian's dataset-fashion-mnist package), mnist,
/// cifar10, cifar100 (their binary batches) and imagefolder (train/ and val/ with a folder per class).
/// </summary>
public static class DatasetCatalog
{
    public static readonly string[] Names = ["fashion-mnist", "mnist", "cifar10", "cifar100", "imagefolder"];

    /// <summary>The folder used when --data-dir is not given.</summary>
    public static string DefaultDataDir(string dataset) => dataset switch
    {
        "fashion-mnist" => IdxDataset.DefaultFashionMnistPath(),
        _ => throw new DatasetException($"--data-dir is required for --dataset {dataset}"),
    };

    /// <summary>Opens the training split (train = true) or the test/validation split.</summary>
    public static DatasetSplit Open(string dataset, string? dataDir, bool train, int imageSize = 224)
    {
        string dir = dataDir ?? DefaultDataDir(dataset);
        if (!Directory.Exists(dir))
            throw new DatasetException(dataset == "fashion-mnist" && dataDir is null
                ? $"Fashion-MNIST not found at {dir} (install Debian's dataset-fashion-mnist, or pass --data-dir)"
                : $"data folder not found: {dir}");
        return dataset switch
        {
            "fashion-mnist" => new DatasetSplit(IdxDataset.LoadFashionMnist(dir, train), 28, 1, DatasetNormalization.FashionMnist, true),
            "mnist" => new DatasetSplit(IdxDataset.LoadMnist(dir, train), 28, 1, DatasetNormalization.Mnist, true),
            "cifar10" => new DatasetSplit(CifarDataset.LoadCifar10(dir, train), 32, 3, DatasetNormalization.Cifar10, true),
            "cifar100" => new DatasetSplit(CifarDataset.LoadCifar100(dir, train), 32, 3, DatasetNormalization.Cifar100, true),
            "imagefolder" => new DatasetSplit(ImageFolderDataset.OpenSplit(dir, train ? "train" : "val"), imageSize, 3, DatasetNormalization.ImageNet, false),
            _ => throw new DatasetException($"unknown --dataset '{dataset}' (choose {string.Join(", ", Names)})"),
        };
    }

    /// <summary>A subset of the first <paramref name="limit"/> samples, for quick runs and tests (0 = all).</summary>
    public static IImageDataset Limit(IImageDataset dataset, int limit) =>
        limit <= 0 || limit >= dataset.Count ? dataset : new SubsetDataset(dataset, limit);

    private sealed class SubsetDataset(IImageDataset inner, int count) : IImageDataset
    {
        public int Count => count;
        public IReadOnlyList<string> Classes => inner.Classes;
        public int Channels => inner.Channels;
        public int Label(int index) => inner.Label(index);
        public string Describe(int index) => inner.Describe(index);
        public void Read(int index, ImageBuffer destination, ref byte[] scratch, IDecodeScaleChooser? scale = null)
            => inner.Read(index, destination, ref scratch, scale);
    }
}
