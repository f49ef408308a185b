using Vicreg.Engine.Data;
using Vicreg.Platform;

namespace Vicreg.Training;

/// <summary>
/// Everything `vicreg pretrain` is told. Flag names are the official implementation's, so a paper's
/// command line carries over; the defaults are the small-data recipe (ResNet-18, 2048-2048-2048
/// expander, batch 256); the official ImageNet run is --arch resnet50 --mlp 8192-8192-8192
/// --batch-size 2048 --stem imagenet --epochs 100.
/// --loss barlowtwins trains Barlow Twins instead (<see cref="BarlowTwinsObjective"/>); the defaults that differ between
/// the two are stated once, in <see cref="For"/>.
/// </summary>
public sealed record PretrainOptions
{
    public const string Vicreg = "vicreg";
    public const string BarlowTwins = "barlowtwins";
    public static readonly string[] Losses = [Vicreg, BarlowTwins];

    /// <summary>The defaults of a run with the given loss: Barlow Twins' official projector is 8192-8192-8192 (its weight
    /// decay, 1e-6 in the official main.py, is VICReg's). Anything not set here is shared.</summary>
    public static PretrainOptions For(string loss) => loss == BarlowTwins ? new() { Loss = BarlowTwins, Mlp = "8192-8192-8192" } : new();

    /// <summary>vicreg or barlowtwins.</summary>
    public string Loss { get; init; } = Vicreg;

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
    /// <summary>Linear warm-up length in epochs; fractional for short runs (rounded to whole steps).</summary>
    public double WarmupEpochs { get; init; } = 10;
    public int BatchSize { get; init; } = 256;
    /// <summary>Lower bound of the views' RandomResizedCrop area scale; null keeps the data set's recipe (0.08 for
    /// photographs as the official code, 0.2 for the small data sets).</summary>
    public double? CropScaleMin { get; init; }
    public double BaseLr { get; init; } = 0.2;
    public double WeightDecay { get; init; } = 1e-6;
    public double LarsEta { get; init; } = 0.001;
    public double SimCoeff { get; init; } = 25;
    public double StdCoeff { get; init; } = 25;
    public double CovCoeff { get; init; } = 1;
    /// <summary>Barlow Twins: the weight of the off-diagonal term.</summary>
    public double Lambd { get; init; } = 0.0051;
    /// <summary>Barlow Twins: the base learning rates of the weights (parameters with more than one dimension) and of the
    /// biases and batch-norm parameters, each times batch/256 and the warm-up + cosine schedule.</summary>
    public double LearningRateWeights { get; init; } = 0.2;
    public double LearningRateBiases { get; init; } = 0.0048;
    public double LogFreqTime { get; init; } = 60;
    public int NumWorkers { get; init; } = Communicators.CoresPerRank();
    public ulong Seed { get; init; }
    public string Device { get; init; } = "auto";
    /// <summary>Keep cuBLAS and cuDNN in full float32 instead of TF32 tensor-op math (CUDA only).</summary>
    public bool NoTf32 { get; init; }
    /// <summary>CUDA: deterministic cuDNN algorithms only, never chosen by timing, so a GPU run repeats bit for bit.</summary>
    public bool Deterministic { get; init; }
    /// <summary>Side of the views' square crops in pixels; null: the data set's own (<see cref="DatasetCatalog.PhotographSize"/>
    /// for image folders, 28 or 32 for the small data sets).</summary>
    public int? ImageSize { get; init; }
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
}
