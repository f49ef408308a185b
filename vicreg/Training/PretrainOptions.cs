using Vicreg.Commands;
using Vicreg.Datasets;
using Vicreg.Engine.Data;
using Vicreg.Models;
using Vicreg.Platform;

namespace Vicreg.Training;

/// <summary>
/// Everything `vicreg pretrain` is told. Flag names are the official implementation's, so a paper's
/// command line carries over; the defaults are the small-data recipe (ResNet-18, 2048-2048-2048
/// expander, batch 256); the official ImageNet run is --arch resnet50 --mlp 8192-8192-8192
/// --batch-size 2048 --stem imagenet --epochs 100.
/// </summary>
public sealed record PretrainOptions
{
    public string Dataset { get; init; } = "fashion-mnist";
    /// <summary>The line saying which data set was chosen when the command line named none (null when it did).</summary>
    public string? DatasetNote { get; init; }
    public string? DataDir { get; init; }
    public string ExpDir { get; init; } = "./exp";
    public string Arch { get; init; } = "resnet18";
    public string Stem { get; init; } = "auto";
    public double Width { get; init; } = 1;
    public string Mlp { get; init; } = "2048-2048-2048";
    public int Epochs { get; init; } = 100;
    public int WarmupEpochs { get; init; } = 10;
    public int BatchSize { get; init; } = 256;
    public double BaseLr { get; init; } = 0.2;
    public double WeightDecay { get; init; } = 1e-6;
    public double LarsEta { get; init; } = 0.001;
    public double SimCoeff { get; init; } = 25;
    public double StdCoeff { get; init; } = 25;
    public double CovCoeff { get; init; } = 1;
    public double LogFreqTime { get; init; } = 60;
    public int NumWorkers { get; init; } = Communicators.CoresPerRank();
    public ulong Seed { get; init; }
    public string Device { get; init; } = "auto";
    /// <summary>Keep cuBLAS and cuDNN in full float32 instead of TF32 tensor-op math (CUDA only).</summary>
    public bool NoTf32 { get; init; }
    /// <summary>CUDA: deterministic cuDNN algorithms only, never chosen by timing, so a GPU run repeats bit for bit.</summary>
    public bool Deterministic { get; init; }
    public int ImageSize { get; init; } = 224;
    /// <summary>Use only the first N training images (0 = all): quick runs and tests.</summary>
    public int Limit { get; init; }
    /// <summary>Stop after this many steps in total (0 = run every epoch): tests and benchmarks.</summary>
    public long MaxSteps { get; init; }
    public bool Strict { get; init; }
    /// <summary>auto (MPI when started by mpirun), none, or mpi.</summary>
    public string Dist { get; init; } = "auto";
    /// <summary>Image folders: images announcing more pixels are skipped, refused from their header.</summary>
    public long MaxImagePixels { get; init; } = ImageLimits.DefaultMaxPixels;
    /// <summary>Measure the weighted kNN accuracy every N epochs (0 = never): <see cref="KnnMonitor"/>.</summary>
    public int KnnEvery { get; init; }
    /// <summary>kNN bank: the first N training images (0 = all); queries: the first N test images (0 = all).</summary>
    public int KnnBank { get; init; } = 10000;
    public int KnnQueries { get; init; } = 2000;

    public const string Summary = "pretrain a ResNet with VICReg (checkpoints every epoch, resumes automatically)";

    public static PretrainOptions Parse(Arguments a)
    {
        string? dataset = a.OptionalString("dataset", $"data set: {string.Join(", ", DatasetCatalog.Names)} (default: what --data-dir holds; fashion-mnist without --data-dir)");
        string? dataDir = a.OptionalString("data-dir", "data folder (default for fashion-mnist: Debian's dataset-fashion-mnist folder)");
        var (name, note) = a.HelpRequested ? ("fashion-mnist", null) : DatasetFlag.Resolve("pretrain", dataset, dataDir);
        var o = new PretrainOptions
        {
            Dataset = name,
            DatasetNote = note,
            DataDir = dataDir,
            ExpDir = a.String("exp-dir", "./exp", "experiment folder: stats.txt, checkpoint.safetensors, backbone.safetensors"),
            Arch = a.String("arch", "resnet18", $"backbone: {string.Join(", ", Backbones.Architectures)}"),
            Stem = a.String("stem", "auto", "imagenet (7x7/2 conv + max-pool), cifar (3x3/1 conv), or auto (cifar for small images)"),
            Width = a.Double("width", 1, "channel width multiplier (0.25 for a small fast network; 2 for resnet50x2)", 0.0625, 8),
            Mlp = a.String("mlp", "2048-2048-2048", "expander sizes after the representation, e.g. 8192-8192-8192"),
            Epochs = a.Int("epochs", 100, "training epochs", 1),
            WarmupEpochs = a.Int("warmup-epochs", 10, "linear learning-rate warm-up, in epochs", 0),
            BatchSize = a.Int("batch-size", 256, "pairs per step (the learning rate scales with batch/256)", 2),
            BaseLr = a.Double("base-lr", 0.2, "base learning rate (peak = base-lr * batch-size / 256)", 0),
            WeightDecay = a.Double("wd", 1e-6, "LARS weight decay (official 1e-6; small-data recipes use 1e-4)", 0),
            LarsEta = a.Double("lars-eta", 0.001, "LARS trust coefficient (official 0.001; small-data recipes use 0.02)", 0),
            SimCoeff = a.Double("sim-coeff", 25, "invariance coefficient", 0),
            StdCoeff = a.Double("std-coeff", 25, "variance coefficient", 0),
            CovCoeff = a.Double("cov-coeff", 1, "covariance coefficient", 0),
            LogFreqTime = a.Double("log-freq-time", 60, "seconds between stats.txt lines", 0),
            NumWorkers = a.Int("num-workers", Communicators.CoresPerRank(), "data-loading threads (0 = load on the training thread; default: this rank's share of the cores)", 0, 256),
            Seed = (ulong)a.Int("seed", 0, "seed of initialisation, shuffling and augmentation", 0),
            Device = a.String("device", "auto", "cpu, cuda, or auto"),
            NoTf32 = a.Switch("no-tf32", "CUDA: full float32 GEMMs and convolutions instead of TF32 tensor cores"),
            Deterministic = a.Switch("deterministic", "CUDA: deterministic cuDNN algorithms only (none chosen by timing), so a run repeats bit for bit on the same GPU and software; the CPU is always deterministic"),
            ImageSize = a.Int("image-size", 224, "crop size for imagefolder data (small data sets keep their own size)", 16, 1024),
            Limit = a.Int("limit", 0, "use only the first N training images (0 = all)", 0),
            MaxSteps = a.Int("max-steps", 0, "stop after this many steps in total (0 = all epochs)", 0),
            Strict = a.Switch("strict", "stop at an unreadable image instead of skipping it"),
            Dist = a.String("dist", "auto", "data parallelism: auto (MPI when started by mpirun), none, or mpi; --batch-size stays the global batch"),
            MaxImagePixels = a.Int("max-image-pixels", (int)ImageLimits.DefaultMaxPixels, DatasetCatalog.MaxImagePixelsHelp, 1),
            KnnEvery = a.Int("knn-every", 0, "every N epochs, log the weighted kNN top-1 (k 200, T 0.1) of the backbone and its cost in seconds to stats.txt (0 = never)", 0),
            KnnBank = a.Int("knn-bank", 10000, "kNN: the first N training images, with their labels, vote (0 = all)", 0),
            KnnQueries = a.Int("knn-queries", 2000, "kNN: the first N images of the test split are classified (0 = all)", 0),
        };
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
