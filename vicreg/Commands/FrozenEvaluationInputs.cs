using Vicreg.Augment;
using Vicreg.Engine;
using Vicreg.Engine.Data;
using Vicreg.Models;
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
    string Command, string Weights, string Dataset, string? DataDir, string Arch, string Stem, double Width,
    int BatchSize, int Limit, int LimitTest, int ImageSize, int Workers, string Device, bool NoTf32, ulong Seed)
{
    /// <summary>Declares and reads the shared flags; <paramref name="seedHelp"/> says what else the seed drives.</summary>
    public static FrozenEvaluationInputs Parse(Arguments a, string command, string seedHelp) => new(
        command,
        a.String("weights", "", "backbone.safetensors, a checkpoint.safetensors, 'random', or 'pixels'"),
        a.String("dataset", "fashion-mnist", $"data set: {string.Join(", ", DatasetCatalog.Names)}"),
        a.OptionalString("data-dir", "data folder (default for fashion-mnist: Debian's dataset-fashion-mnist folder)"),
        a.String("arch", "resnet18", $"backbone: {string.Join(", ", Backbones.Architectures)}"),
        a.String("stem", "auto", "imagenet, cifar, or auto (cifar for small images)"),
        a.Double("width", 1, "channel width multiplier of the backbone", 0.0625, 8),
        a.Int("batch-size", 256, "batch size", 1),
        a.Int("limit", 0, "use only the first N training images (0 = all)", 0),
        a.Int("limit-test", 0, "use only the first N test images (0 = all; for quick checks)", 0),
        a.Int("image-size", 224, "evaluation crop for imagefolder data", 16, 1024),
        a.Int("num-workers", Math.Max(1, Environment.ProcessorCount), "data-loading threads", 0, 256),
        a.String("device", "auto", "cpu, cuda, or auto"),
        a.Switch("no-tf32", "CUDA: full float32 GEMMs and convolutions instead of TF32 tensor cores"),
        (ulong)a.Int("seed", 0, "seed of the random-init backbone" + seedHelp, 0));

    /// <summary>The checks that need no file opened; call after <see cref="Arguments.RejectUnknown"/>.</summary>
    public void Validate()
    {
        if (Weights.Length == 0) throw new UsageException($"{Command}: --weights is required (a .safetensors file, 'random' or 'pixels')");
        if (Weights is not ("random" or "pixels") && !File.Exists(Weights)) throw new UsageException($"{Command}: weights file not found: {Weights}");
    }

    /// <summary>How the weights are named in a result line: "random", "pixels" or the file's name.</summary>
    public string WeightsLabel => Weights is "random" or "pixels" ? Weights : Path.GetFileName(Weights);

    /// <summary>Opens the backend, both splits and the backbone (none for "pixels"). Errors are the exceptions
    /// <see cref="CommandErrors.Guard{T}"/> turns into usage lines.</summary>
    public FrozenEvaluation Open()
    {
        var backend = BackendSelector.Resolve(Device, Console.WriteLine, allowTf32: !NoTf32);
        var train = DatasetCatalog.Open(Dataset, DataDir, train: true, ImageSize);
        var test = DatasetCatalog.Open(Dataset, DataDir, train: false, ImageSize);
        string stem = Stem == "auto" ? (train.IsSmall ? "cifar" : "imagenet") : Stem;
        ResNet? backbone = null;
        if (Weights != "pixels")
        {
            var rng = new Rng(Seed);
            backbone = Backbones.Create(Arch, ResNetStems.Parse(stem), Width, train.Channels, ref rng, backend: backend);
            if (Weights != "random") LinearEvalCommand.LoadBackbone(backbone, Weights);
        }
        return new FrozenEvaluation(this, backend, train, test, DatasetCatalog.Limit(train.Dataset, Limit), DatasetCatalog.Limit(test.Dataset, LimitTest), backbone);
    }
}

/// <summary>What <see cref="FrozenEvaluationInputs.Open"/> opened: the splits (cut to --limit / --limit-test),
/// the frozen backbone (null: raw pixels) and the backend it runs on.</summary>
public sealed record FrozenEvaluation(FrozenEvaluationInputs Inputs, IBackend Backend, DatasetChoice Train, DatasetChoice Test,
    IImageDataset TrainSet, IImageDataset TestSet, ResNet? Backbone)
{
    public int Classes => Train.Dataset.Classes.Count;

    /// <summary>Features of <paramref name="split"/> through the evaluation transform, with a progress line named <paramref name="label"/>.</summary>
    public FeatureSet Features(IImageDataset split, string label, CancellationToken cancel) =>
        FeatureExtractor.Extract(Backbone, split, Train.Evaluation, Backend, Inputs.BatchSize, Inputs.Workers,
            new ProgressLine(label, split.Count, "images"), cancel);
}
