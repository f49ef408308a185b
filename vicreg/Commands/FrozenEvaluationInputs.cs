using Vicreg.Datasets;
using Vicreg.Engine.Inference;
using Vicreg.Engine.Data;
using Vicreg.Engine.IO;
using Vicreg.Engine;
using Vicreg.Engine.Models;
using Vicreg.Platform;
using Vicreg.Training;

namespace Vicreg.Commands;

/// <summary>
/// The flags every evaluation on a frozen backbone shares (linear-eval, knn-eval), declared once so both
/// commands spell, default and explain them alike, and what they open: the backend, the data set's train
/// and test splits (optionally only their first images), and the backbone in evaluation mode.
/// --weights is a backbone.safetensors (torchvision names; a torchvision state dict's fc.* is ignored),
/// a pretraining checkpoint, "random" for the random-init baseline, or "pixels" for the raw pixels.
/// </summary>
public sealed record FrozenEvaluationInputs(
    string Command, string Weights, string? Dataset, string? DataDir, string Arch, string Stem, double Width,
    int BatchSize, int Limit, int LimitTest, int ImageSize, int MaxImagePixels, bool Strict, int Workers, string Device, bool NoTf32, ulong Seed)
{
    /// <summary>Declares and reads the shared flags; <paramref name="seedHelp"/> says what else the seed drives.</summary>
    public static FrozenEvaluationInputs Parse(Arguments a, string command, string seedHelp) => new(
        command,
        a.String("weights", "", "backbone.safetensors, a checkpoint.safetensors, a PyTorch .pth (state dict or checkpoint), 'random', or 'pixels'"),
        a.OptionalString("dataset", $"data set: {string.Join(", ", DatasetCatalog.Names)} (default: what --data-dir holds; fashion-mnist without --data-dir)"),
        a.OptionalString("data-dir", "data folder (default for fashion-mnist: Debian's dataset-fashion-mnist folder)"),
        a.String("arch", "resnet18", $"backbone: {string.Join(", ", Backbones.Architectures)}"),
        a.String("stem", "auto", "imagenet, cifar, or auto (cifar for small images)"),
        a.Double("width", 1, "channel width multiplier of the backbone", 0.0625, 8),
        a.Int("batch-size", 256, "batch size", 1),
        a.Int("limit", 0, "use only the first N training images (0 = all)", 0),
        a.Int("limit-test", 0, "use only the first N test images (0 = all; for quick checks)", 0),
        a.Int("image-size", 224, "evaluation crop for imagefolder data", 16, 1024),
        a.Int("max-image-pixels", (int)ImageLimits.DefaultMaxPixels, DatasetCatalog.MaxImagePixelsHelp, 1),
        a.Switch("strict", "stop at an unreadable image instead of skipping it"),
        a.Int("num-workers", Math.Max(1, Environment.ProcessorCount), "data-loading threads", 0, 256),
        a.String("device", "auto", "cpu, cuda, or auto"),
        a.Switch("no-tf32", "CUDA: full float32 GEMMs and convolutions instead of TF32 tensor cores"),
        (ulong)a.Int("seed", 0, "seed of the random-init backbone" + seedHelp, 0));

    /// <summary>The checks that need no file opened, and the data set a missing --dataset means (its choice printed
    /// in one line); call after <see cref="Arguments.RejectUnknown"/> and use the inputs it returns.</summary>
    public FrozenEvaluationInputs Validate()
    {
        if (Weights.Length == 0) throw new UsageException($"{Command}: --weights is required (a .safetensors or .pth file, 'random' or 'pixels')");
        if (Weights is not ("random" or "pixels") && !File.Exists(Weights)) throw new UsageException($"{Command}: weights file not found: {Weights}");
        var (dataset, note) = DatasetFlag.Resolve(Command, Dataset, DataDir);
        if (note is not null) Console.WriteLine(note);
        return this with { Dataset = dataset };
    }

    /// <summary>How the weights are named in a result line: "random", "pixels" or the file's name.</summary>
    public string WeightsLabel => Weights is "random" or "pixels" ? Weights : Path.GetFileName(Weights);

    /// <summary>Opens the backend, both splits and the backbone (none for "pixels"), after checking that the
    /// features fit in memory. Errors are the exceptions <see cref="CommandErrors.Guard{T}"/> turns into usage lines.</summary>
    public FrozenEvaluation Open()
    {
        string dataset = Dataset ?? throw new InvalidOperationException("FrozenEvaluationInputs.Open before Validate");
        var backend = BackendSelector.Resolve(Device, Console.WriteLine, allowTf32: !NoTf32);
        var train = DatasetCatalog.Open(dataset, DataDir, train: true, ImageSize, MaxImagePixels);
        var test = DatasetCatalog.Open(dataset, DataDir, train: false, ImageSize, MaxImagePixels);
        var trainSet = DatasetCatalog.Limit(train.Dataset, Limit);
        var testSet = DatasetCatalog.Limit(test.Dataset, LimitTest);
        string stem = Stem == "auto" ? (train.IsSmall ? "cifar" : "imagenet") : Stem;
        // A batch larger than the data set is the whole data set; memory is checked before anything is allocated.
        int batch = Math.Min(BatchSize, Math.Max(trainSet.Count, testSet.Count));
        ResNet? backbone = null;
        if (Weights != "pixels")
        {
            if (backend.IsHostMemory)
                MemoryFootprint.Features(Arch, ResNetStems.Parse(stem), Width, train.Channels, train.ImageSize, train.ImageSize, batch,
                    (long)trainSet.Count + testSet.Count).Require($"{Command} (--arch {Arch} --width {Width} --batch-size {batch})");
            var rng = new Rng(Seed);
            backbone = Backbones.Create(Arch, ResNetStems.Parse(stem), Width, train.Channels, ref rng, backend: backend);
            if (Weights != "random") LoadBackbone(backbone, Weights, train.Name, train.Normalization);
        }
        return new FrozenEvaluation(this, backend, train, test, trainSet, testSet, backbone, batch);
    }

    /// <summary>A backbone file (torchvision names, fc.* ignored), a whole pretraining checkpoint (model.backbone.*),
    /// or a PyTorch .pth (a state dict, or a checkpoint's 'model' entry with module.backbone.* keys); the prefix is
    /// recognized and the load reported in one line.</summary>
    /// <summary>Transfer (a backbone pretrained on another data set) needs nothing else: the backbone is built for the
    /// evaluation data set's channels and its images get that data set's normalization; a backbone whose first
    /// convolution expects another number of channels cannot be used, and says so in one line.</summary>
    private static void LoadBackbone(ResNet backbone, string path, string dataset, DatasetNormalization normalization)
    {
        try
        {
            var load = StateDictFile.Load(backbone, path, StateDictFile.AutoPrefix, ignore: name => name.StartsWith("fc.", StringComparison.Ordinal));
            Console.WriteLine(load);
        }
        catch (WeightsMismatchException e) when (e.ShapeMismatches.FirstOrDefault(m => m.Name == "conv1.weight") is { Found.Rank: 4 } conv1
                                                 && conv1.Found[1] != conv1.Expected[1])
        {
            throw new DatasetException($"{path} was pretrained on {conv1.Found[1]}-channel images and {dataset} has {conv1.Expected[1]}: " +
                                       "the channels cannot match (evaluate on a data set with as many channels)");
        }
        Console.WriteLine($"evaluation data: {dataset}, {normalization.Channels} channel{(normalization.Channels == 1 ? "" : "s")}, normalized with its own mean " +
                          $"[{string.Join(", ", normalization.Mean)}] and std [{string.Join(", ", normalization.Std)}] (whatever the backbone was pretrained on)");
    }
}

/// <summary>What <see cref="FrozenEvaluationInputs.Open"/> opened: the splits (cut to --limit / --limit-test),
/// the frozen backbone (null: raw pixels) and the backend it runs on.</summary>
public sealed record FrozenEvaluation(FrozenEvaluationInputs Inputs, IBackend Backend, DatasetChoice Train, DatasetChoice Test,
    IImageDataset TrainSet, IImageDataset TestSet, ResNet? Backbone, int BatchSize)
{
    public int Classes => Train.Dataset.Classes.Count;

    /// <summary>Features of <paramref name="split"/> through the evaluation transform, with a progress line named
    /// <paramref name="label"/>. An unreadable image has no row (or stops the command under --strict).</summary>
    public FeatureSet Features(IImageDataset split, string label, CancellationToken cancel)
    {
        var progress = new ProgressLine(label, split.Count, "images");
        var features = FeatureExtractor.Extract(Backbone, split, Train.Evaluation, Backend, BatchSize, Inputs.Workers,
            seen => progress.Report(seen, ""), cancel, Inputs.Strict);
        progress.Finish();
        return features;
    }
}
