using Vicreg.Augment;
using Vicreg.Engine.Data.Datasets;
using Vicreg.Engine.Data;
using Vicreg.Engine.Data.Transforms;

namespace Vicreg.Datasets;

/// <summary>A dataset split with the transforms that go with it.</summary>
public sealed record DatasetChoice(
    string Name,
    IImageDataset Dataset,
    DatasetNormalization Normalization,
    int ImageSize,
    IImageTransform[] PretrainViews,
    IImageTransform LinearTrain,
    IImageTransform Evaluation)
{
    /// <summary>28x28 or 32x32 data sets (the cifar stem and the small-image recipe), as opposed to photographs.</summary>
    public bool IsSmall => Name != "imagefolder";
    public int Channels => Dataset.Channels;
}

/// <summary>
/// Opens a dataset by name for the CLI: fashion-mnist (default; Debian's dataset-fashion-mnist folder
/// unless --data-dir says otherwise), mnist, cifar10, cifar100 (binary versions, from --data-dir), or
/// imagefolder (--data-dir with train/ and val/). Errors are <see cref="DatasetException"/> lines.
/// </summary>
public static class DatasetCatalog
{
    public static readonly string[] Names = ["fashion-mnist", "mnist", "cifar10", "cifar100", "imagefolder"];

    /// <summary>
    /// The data set a command line means: --dataset when given; otherwise what --data-dir holds
    /// (<see cref="DatasetDetection"/>); Fashion-MNIST only when neither is given. The note is the line that
    /// says which was chosen and why (null when --dataset named it).
    /// </summary>
    public static (string Name, string? Note) Resolve(string? name, string? dataDir)
    {
        if (name is not null) return (name, null);
        if (dataDir is null) return ("fashion-mnist", "data set: fashion-mnist (the default: neither --dataset nor --data-dir given)");
        var (detected, evidence) = DatasetDetection.Detect(dataDir);
        return (detected, $"data set: {detected}, from what --data-dir {dataDir} holds: {evidence} (--dataset names another)");
    }

    /// <summary>The flag that raises <see cref="ImageLimits.DefaultMaxPixels"/> for image folders, shared by the commands.</summary>
    public const string MaxImagePixelsHelp = "image folders: an image announcing more pixels is skipped, refused from its header before any allocation (Pillow's limit)";

    /// <summary>The side of an image folder's crops unless a command says otherwise: the official 224.</summary>
    public const int PhotographSize = 224;

    /// <summary>A split of the named data set; <paramref name="imageSize"/> is an image folder's crop side (null:
    /// <see cref="PhotographSize"/>), the small data sets keep their own.</summary>
    public static DatasetChoice Open(string name, string? dataDir, bool train, int? imageSize = null, long maxImagePixels = ImageLimits.DefaultMaxPixels)
    {
        switch (name.ToLowerInvariant())
        {
            case "fashion-mnist":
            case "fashionmnist":
                return Small("fashion-mnist", IdxDataset.LoadFashionMnist(dataDir, train), DatasetNormalization.FashionMnist, 28);
            case "mnist":
                return Small("mnist", IdxDataset.LoadMnist(Require(dataDir, name), train), DatasetNormalization.Mnist, 28);
            case "cifar10":
            case "cifar-10":
                return Small("cifar10", CifarDataset.LoadCifar10(Require(dataDir, name), train), DatasetNormalization.Cifar10, 32);
            case "cifar100":
            case "cifar-100":
                return Small("cifar100", CifarDataset.LoadCifar100(Require(dataDir, name), train), DatasetNormalization.Cifar100, 32);
            case "imagefolder":
            case "imagenet":
            {
                var ds = ImageFolderDataset.OpenSplit(Require(dataDir, name), train ? "train" : "val", maxPixels: maxImagePixels);
                var norm = DatasetNormalization.ImageNet;
                int size = imageSize ?? PhotographSize;
                return new DatasetChoice("imagefolder", ds, norm, size, VicregAugmentations.ImageNetTwoViews(size),
                    VicregAugmentations.LinearTrain(size, norm), EvaluationTransforms.Photographs(size, norm));
            }
            default:
                throw Unknown(name);
        }
    }

    /// <summary>
    /// The evaluation transform a data set's model takes image files through (<c>embed --images</c>), without opening
    /// the data set: photographs (imagefolder) as the linear evaluation takes them, Resize + CenterCrop to
    /// <paramref name="imageSize"/>; the small data sets at their size with their normalization and channels
    /// (<see cref="EvaluationTransforms.SmallImages"/>).
    /// </summary>
    public static IImageTransform FileEvaluation(string name, int imageSize) => name.ToLowerInvariant() switch
    {
        "fashion-mnist" or "fashionmnist" => EvaluationTransforms.SmallImages(28, DatasetNormalization.FashionMnist),
        "mnist" => EvaluationTransforms.SmallImages(28, DatasetNormalization.Mnist),
        "cifar10" or "cifar-10" => EvaluationTransforms.SmallImages(32, DatasetNormalization.Cifar10),
        "cifar100" or "cifar-100" => EvaluationTransforms.SmallImages(32, DatasetNormalization.Cifar100),
        "imagefolder" or "imagenet" => EvaluationTransforms.Photographs(imageSize, DatasetNormalization.ImageNet),
        _ => throw Unknown(name),
    };

    /// <summary>The first <paramref name="limit"/> samples only, for quick runs and tests (0 = all).</summary>
    public static IImageDataset Limit(IImageDataset dataset, int limit) =>
        limit <= 0 || limit >= dataset.Count ? dataset : new IndexedSubset(dataset, Enumerable.Range(0, limit).ToArray());

    private static DatasetChoice Small(string name, IImageDataset ds, DatasetNormalization norm, int size) =>
        new(name, ds, norm, size, VicregAugmentations.SmallImageTwoViews(size, norm),
            VicregAugmentations.SmallImageLinearTrain(size, norm), VicregAugmentations.SmallImageEvaluation(size, norm));

    private static DatasetException Unknown(string name) => new($"unknown dataset '{name}' (expected one of: {string.Join(", ", Names)})");

    private static string Require(string? dataDir, string name) =>
        dataDir ?? throw new DatasetException($"dataset '{name}' needs --data-dir");
}
