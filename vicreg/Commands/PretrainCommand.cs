using Vicreg.Datasets;
using Vicreg.Engine.Models;
using Vicreg.Platform;
using Vicreg.Training;

namespace Vicreg.Commands;

/// <summary>`vicreg pretrain`: VICReg (or, --loss barlowtwins, Barlow Twins) pretraining with the official flag names.</summary>
public sealed class PretrainCommand : ICommand
{
    public string Name => "pretrain";
    public string Summary => SummaryLine;

    public int Run(Arguments args, string commandLine)
    {
        var options = ParseOptions(args);
        if (args.HelpRequested)
        {
            Console.WriteLine(args.Usage(Summary + ".\nCtrl-C stops after the current step and saves a checkpoint; the same command resumes."));
            return 0;
        }
        args.RejectUnknown();
        using var communicator = CommandErrors.Guard(() => Communicators.Create(options.Dist));
        if (communicator.Size > 1) Communicators.ShareCores();
        if (communicator.Size > 1 && communicator.Rank == 0 && Communicators.BindingAdvice() is { } advice) Console.WriteLine(advice);
        if (options.DatasetNote is not null && communicator.Rank == 0) Console.WriteLine(options.DatasetNote);
        var trainer = new Pretrainer(options, commandLine, communicator.Rank == 0 ? Console.Out : TextWriter.Null, communicator);
        using var interrupts = new InterruptHandler(trainer.RequestStop,
            "interrupt: finishing the current step and saving a checkpoint (Ctrl-C again to abort)");
        var result = RankFailure.Guard(communicator, () => CommandErrors.Guard(() => trainer.Run()));
        return result.Interrupted ? interrupts.ExitCode : 0;
    }

    public const string SummaryLine = "pretrain a ResNet with VICReg or Barlow Twins (checkpoints every epoch, resumes automatically)";

    /// <summary>The flags that belong to one loss; given with the other, they are refused.</summary>
    private static readonly (string Flag, string Loss)[] s_lossFlags =
    [
        ("base-lr", PretrainOptions.Vicreg), ("sim-coeff", PretrainOptions.Vicreg), ("std-coeff", PretrainOptions.Vicreg), ("cov-coeff", PretrainOptions.Vicreg),
        ("lambd", PretrainOptions.BarlowTwins), ("learning-rate-weights", PretrainOptions.BarlowTwins), ("learning-rate-biases", PretrainOptions.BarlowTwins),
    ];

    /// <summary>Reads the flags; every default is <see cref="PretrainOptions"/>'s, stated there once (those that
    /// depend on --loss in <see cref="PretrainOptions.For"/>).</summary>
    public static PretrainOptions ParseOptions(Arguments a)
    {
        string loss = a.String("loss", PretrainOptions.Vicreg,
            "vicreg, or barlowtwins (the official Barlow Twins main.py); flags marked [vicreg] or [barlowtwins] belong to that loss alone");
        if (!PretrainOptions.Losses.Contains(loss))
            throw new UsageException($"pretrain: --loss must be {string.Join(" or ", PretrainOptions.Losses)}, got '{loss}'");
        var d = PretrainOptions.For(loss);
        var vicreg = PretrainOptions.For(PretrainOptions.Vicreg);
        var barlow = PretrainOptions.For(PretrainOptions.BarlowTwins);
        string? dataset = a.OptionalString("dataset", $"data set: {string.Join(", ", DatasetCatalog.Names)} (default: what --data-dir holds; fashion-mnist without --data-dir)");
        string? dataDir = a.OptionalString("data-dir", "data folder (default for fashion-mnist: Debian's dataset-fashion-mnist folder)");
        var (name, note) = a.HelpRequested ? (d.Dataset, null) : DatasetFlag.Resolve("pretrain", dataset, dataDir);
        var o = d with
        {
            Dataset = name,
            DatasetNote = note,
            DataDir = dataDir,
            ExpDir = a.String("exp-dir", d.ExpDir, "experiment folder: stats.txt, checkpoint.safetensors, backbone.safetensors"),
            Arch = a.String("arch", d.Arch, $"backbone: {string.Join(", ", Backbones.Architectures)}"),
            Stem = a.String("stem", d.Stem, "imagenet (7x7/2 conv + max-pool), cifar (3x3/1 conv), or auto (cifar for small images)"),
            Width = a.Double("width", d.Width, "channel width multiplier (0.25 for a small fast network; 2 for resnet50x2)", 0.0625, 8),
            Mlp = a.String("mlp", d.Mlp, $"expander sizes after the representation (vicreg: {vicreg.Mlp}; barlowtwins: {barlow.Mlp}, without hidden biases)"),
            Epochs = a.Int("epochs", d.Epochs, "training epochs", 1),
            WarmupEpochs = a.Double("warmup-epochs", d.WarmupEpochs, "linear learning-rate warm-up, in epochs (fractions allowed, e.g. 0.2 for a short run)", 0),
            CropScaleMin = a.OptionalDouble("crop-scale-min", "smallest crop of the views, as a fraction of the image area (default: 0.08 for image folders as the official code, 0.2 for 28x28 and 32x32 data sets)", 0.01, 1),
            BatchSize = a.Int("batch-size", d.BatchSize, "pairs per step (the learning rate scales with batch/256)", 2),
            BaseLr = a.Double("base-lr", d.BaseLr, "[vicreg] base learning rate (peak = base-lr * batch-size / 256)", 0),
            WeightDecay = a.Double("wd", d.WeightDecay, "LARS weight decay (official 1e-6; small-data recipes use 1e-4)", 0),
            LarsEta = a.Double("lars-eta", d.LarsEta, "LARS trust coefficient (official 0.001; small-data recipes use 0.02)", 0),
            SimCoeff = a.Double("sim-coeff", d.SimCoeff, "[vicreg] invariance coefficient", 0),
            StdCoeff = a.Double("std-coeff", d.StdCoeff, "[vicreg] variance coefficient", 0),
            CovCoeff = a.Double("cov-coeff", d.CovCoeff, "[vicreg] covariance coefficient", 0),
            Lambd = a.Double("lambd", d.Lambd, "[barlowtwins] weight of the off-diagonal term", 0),
            LearningRateWeights = a.Double("learning-rate-weights", d.LearningRateWeights,
                "[barlowtwins] base learning rate of the weights (times batch-size / 256 and the schedule)", 0),
            LearningRateBiases = a.Double("learning-rate-biases", d.LearningRateBiases,
                "[barlowtwins] base learning rate of the biases and batch-norm parameters (times batch-size / 256 and the schedule)", 0),
            LogFreqTime = a.Double("log-freq-time", d.LogFreqTime, "seconds between stats.txt lines", 0),
            NumWorkers = a.Int("num-workers", d.NumWorkers, "data-loading threads (0 = load on the training thread; default: this rank's share of the cores)", 0, 256),
            Seed = (ulong)a.Int("seed", (int)d.Seed, "seed of initialization, shuffling and augmentation", 0),
            Device = a.String("device", d.Device, "cpu, cuda, or auto"),
            NoTf32 = a.Switch("no-tf32", "CUDA: full float32 GEMMs and convolutions instead of TF32 tensor cores"),
            Deterministic = a.Switch("deterministic", "CUDA: deterministic cuDNN algorithms only (none chosen by timing), so a run repeats bit for bit on the same GPU and software; the CPU is always deterministic"),
            ImageSize = a.OptionalInt("image-size", $"side of the views' crops in pixels (default: {DatasetCatalog.PhotographSize} for image folders, the data set's own 28 or 32 otherwise); " +
                "a smaller crop trains faster, and evaluation at the full size scores as well or better (FixRes, Touvron et al. 2019)", 16, 1024),
            Limit = a.Int("limit", d.Limit, "use only the first N training images (0 = all)", 0),
            MaxSteps = a.Int("max-steps", (int)d.MaxSteps, "stop after this many steps in total (0 = all epochs)", 0),
            Strict = a.Switch("strict", "stop at an unreadable image instead of skipping it"),
            Dist = a.String("dist", d.Dist, "data parallelism: auto (MPI when started by mpirun), none, or mpi; --batch-size stays the global batch"),
            MaxImagePixels = a.Int("max-image-pixels", (int)d.MaxImagePixels, DatasetCatalog.MaxImagePixelsHelp, 1),
            KnnEvery = a.Int("knn-every", d.KnnEvery, "every N epochs, log the weighted kNN top-1 (k 200, T 0.1) of the backbone and its cost in seconds to stats.txt (0 = never)", 0),
            KnnBank = a.Int("knn-bank", d.KnnBank, "kNN: the first N training images, with their labels, vote (0 = all)", 0),
            KnnQueries = a.Int("knn-queries", d.KnnQueries, "kNN: the first N images of the test split are classified (0 = all)", 0),
        };
        foreach (var (flag, owner) in s_lossFlags)
            if (owner != o.Loss && a.Given(flag))
                throw new UsageException($"pretrain: --{flag} belongs to --loss {owner}, this run is --loss {o.Loss}");
        if (string.IsNullOrWhiteSpace(o.ExpDir))
            throw new UsageException("pretrain: --exp-dir must name a folder, got an empty string");
        if (!DatasetCatalog.Names.Contains(o.Dataset))
            throw new UsageException($"pretrain: unknown --dataset '{o.Dataset}' (choose {string.Join(", ", DatasetCatalog.Names)})");
        if (o.Stem is not ("auto" or "imagenet" or "cifar"))
            throw new UsageException($"pretrain: --stem must be imagenet, cifar or auto, got '{o.Stem}'");
        if (!Backbones.Architectures.Contains(o.Arch))
            throw new UsageException($"pretrain: unknown --arch '{o.Arch}' (choose {string.Join(", ", Backbones.Architectures)})");
        if (!Communicators.Modes.Contains(o.Dist))
            throw new UsageException($"pretrain: --dist must be {string.Join(", ", Communicators.Modes)}, got '{o.Dist}'");
        try { Expander.ParseSpec(o.Mlp); }
        catch (ArgumentException e) { throw new UsageException($"pretrain: --mlp: {e.Message}"); }
        return o;
    }
}
