using Vicreg.Augment;
using System.Diagnostics;
using Vicreg.Engine;
using Vicreg.Engine.Data;
using Vicreg.Engine.IO;
using Vicreg.Models;
using Vicreg.Training;

namespace Vicreg.Commands;

/// <summary>
/// `vicreg linear-eval`: a linear classifier on the frozen backbone (eval mode), the official head
/// recipe (N(0, 0.01) weights, zero bias, SGD momentum 0.9, cosine per epoch). --weights is a
/// backbone.safetensors (torchvision names; a torchvision state dict's fc.* is ignored), a pretraining
/// checkpoint, "random" for the random-init baseline, or "pixels" for a probe on the raw pixels.
/// By default features are computed once and standardised (<see cref="LinearProbe"/>); --augment runs the
/// official protocol, a fresh crop + flip of every training image every epoch (<see cref="AugmentedLinearProbe"/>).
/// Ctrl-C (or SIGTERM) stops after the current step with exit code 130 (143); nothing is written.
/// </summary>
public sealed class LinearEvalCommand : ICommand
{
    public string Name => "linear-eval";
    public string Summary => "train a linear classifier on frozen features and report top-1 / top-5";

    public int Run(Arguments a, string commandLine)
    {
        string weights = a.String("weights", "", "backbone.safetensors, a checkpoint.safetensors, a PyTorch .pth (state dict or checkpoint), 'random', or 'pixels'");
        string? datasetFlag = a.OptionalString("dataset", $"data set: {string.Join(", ", DatasetCatalog.Names)} (default: what --data-dir holds; fashion-mnist without --data-dir)");
        string? dataDir = a.OptionalString("data-dir", "data folder (default for fashion-mnist: Debian's dataset-fashion-mnist folder)");
        string arch = a.String("arch", "resnet18", $"backbone: {string.Join(", ", Backbones.Architectures)}");
        string stemFlag = a.String("stem", "auto", "imagenet, cifar, or auto (cifar for small images)");
        double width = a.Double("width", 1, "channel width multiplier of the backbone", 0.0625, 8);
        double lrHead = a.Double("lr-head", 0.02, "learning rate of the linear head", 0);
        int epochs = a.Int("epochs", 100, "epochs of head training", 1);
        int batchSize = a.Int("batch-size", 256, "batch size", 1);
        double weightDecay = a.Double("weight-decay", 1e-6, "weight decay of the head", 0);
        int limit = a.Int("limit", 0, "use only the first N training images (0 = all)", 0);
        int limitTest = a.Int("limit-test", 0, "use only the first N test images (0 = all; for quick checks)", 0);
        bool augment = a.Switch("augment", "the official protocol: a freshly augmented (crop + flip) batch through the frozen backbone every step, raw features");
        int imageSize = a.Int("image-size", 224, "evaluation crop for imagefolder data", 16, 1024);
        int workers = a.Int("num-workers", Math.Max(1, Environment.ProcessorCount), "data-loading threads", 0, 256);
        int maxImagePixels = a.Int("max-image-pixels", (int)ImageLimits.DefaultMaxPixels, DatasetCatalog.MaxImagePixelsHelp, 1);
        bool strict = a.Switch("strict", "stop at an unreadable image instead of skipping it");
        string device = a.String("device", "auto", "cpu, cuda, or auto");
        bool noTf32 = a.Switch("no-tf32", "CUDA: full float32 GEMMs and convolutions instead of TF32 tensor cores");
        ulong seed = (ulong)a.Int("seed", 0, "seed of the head's initialisation, the shuffling and (--augment) the augmentations", 0);
        string? expDir = a.OptionalString("exp-dir", "folder for linear_eval.txt (the result as a JSON line)");
        if (a.HelpRequested)
        {
            Console.WriteLine(a.Usage(Summary + ".\n" +
                "Default protocol: features are computed once with the evaluation transform and standardised per dimension; the head then trains on them (fast, and the same for every probe).\n" +
                "--augment: the official protocol: every step the frozen backbone (eval mode) sees a freshly augmented batch (crop + flip) and the head trains on its raw features; the test split uses the evaluation transform.\n" +
                "Ctrl-C stops after the current step; nothing is written."));
            return 0;
        }
        a.RejectUnknown();
        if (weights.Length == 0) throw new UsageException("linear-eval: --weights is required (a .safetensors or .pth file, 'random' or 'pixels')");
        if (weights is not ("random" or "pixels") && !File.Exists(weights)) throw new UsageException($"linear-eval: weights file not found: {weights}");
        var (dataset, datasetNote) = DatasetFlag.Resolve(Name, datasetFlag, dataDir);
        if (datasetNote is not null) Console.WriteLine(datasetNote);

        using var stop = new CancellationTokenSource();
        using var interrupts = new InterruptHandler(stop.Cancel, "interrupt: linear-eval stops after the current step; no result is written (Ctrl-C again to abort)");
        var cancel = stop.Token;
        try
        {
            var result = CommandErrors.Guard(() =>
            {
                var backend = BackendSelector.Resolve(device, Console.WriteLine, allowTf32: !noTf32);
                var train = DatasetCatalog.Open(dataset, dataDir, train: true, imageSize, maxImagePixels);
                var test = DatasetCatalog.Open(dataset, dataDir, train: false, imageSize, maxImagePixels);
                var trainSet = DatasetCatalog.Limit(train.Dataset, limit);
                var testSet = DatasetCatalog.Limit(test.Dataset, limitTest);
                string stem = stemFlag == "auto" ? (train.IsSmall ? "cifar" : "imagenet") : stemFlag;
                // A batch larger than the data set is the whole data set; memory is checked before anything is allocated.
                int batch = Math.Min(batchSize, Math.Max(trainSet.Count, testSet.Count));
                ResNet? backbone = null;
                if (weights != "pixels")
                {
                    if (backend.IsHostMemory)
                        MemoryFootprint.Features(arch, ResNetStems.Parse(stem), width, train.Channels, train.ImageSize, train.ImageSize, batch,
                            (long)trainSet.Count + testSet.Count).Require($"linear-eval (--arch {arch} --width {width} --batch-size {batch})");
                    var rng = new Rng(seed);
                    backbone = Backbones.Create(arch, ResNetStems.Parse(stem), width, train.Channels, ref rng, backend: backend);
                    if (weights != "random") LoadBackbone(backbone, weights);
                }
                var clock = Stopwatch.StartNew();
                var view = train.Evaluation;
                int classes = train.Dataset.Classes.Count;
                var trainFeatures = augment ? null : FeatureExtractor.Extract(backbone, trainSet, view, backend, batch, workers,
                    new ProgressLine("features (train)", trainSet.Count, "images"), cancel, strict);
                var testFeatures = FeatureExtractor.Extract(backbone, testSet, view, backend, batch, workers,
                    new ProgressLine("features (test)", testSet.Count, "images"), cancel, strict);
                // Unreadable images have no feature row; the counts below are of the images used.
                long skipped = (trainFeatures is null ? 0 : trainSet.Count - trainFeatures.Count) + testSet.Count - testFeatures.Count;
                var progress = new ProgressLine(augment ? "linear head (augmented)" : "linear head", epochs, "epochs");
                // Each epoch of --augment runs the backbone over the whole split: report every one, with the time so far.
                void OnEpoch(int epoch, double loss) =>
                    progress.Report(epoch + 1, $"loss {loss:F4} elapsed {ProgressLine.Format(clock.Elapsed)}", force: augment);
                ProbeAccuracy accuracy;
                if (trainFeatures is null)
                {
                    var probe = new AugmentedLinearProbe(epochs, batch, lrHead, weightDecay, seed, workers, strict);
                    accuracy = probe.Run(backbone, trainSet, train.LinearTrain, testFeatures, classes, backend, OnEpoch, cancel);
                    skipped += probe.SkippedSamples;
                }
                else
                {
                    var probe = new LinearProbe(epochs, batch, lrHead, weightDecay, seed);
                    accuracy = probe.Run(trainFeatures, testFeatures, classes, backend, OnEpoch, cancel);
                }
                progress.Finish();
                string what = weights is "random" or "pixels" ? weights : Path.GetFileName(weights);
                string protocol = augment ? "augmented every step, raw" : "computed once, standardised";
                int trainImages = trainFeatures?.Count ?? trainSet.Count;
                string skippedNote = skipped > 0 ? $", {skipped} unreadable skipped" : "";
                Console.WriteLine($"linear-eval {what}: top-1 {accuracy.Top1:F2}%  top-5 {accuracy.Top5:F2}%  ({testFeatures.Dimension}-d features {protocol}; {trainImages} train / {testFeatures.Count} test images{skippedNote}, {ProgressLine.Format(clock.Elapsed)})");
                if (expDir is not null)
                {
                    Directory.CreateDirectory(expDir);
                    using var log = new StatsLog(Path.Combine(expDir, "linear_eval.txt"), commandLine);
                    log.Write(json =>
                    {
                        json.WriteString("weights", weights);
                        json.WriteNumber("top1", accuracy.Top1);
                        json.WriteNumber("top5", accuracy.Top5);
                        json.WriteNumber("epochs", epochs);
                        json.WriteNumber("feature_dim", testFeatures.Dimension);
                        json.WriteBoolean("augment", augment);
                        json.WriteNumber("skipped_images", skipped);
                    });
                }
                return accuracy;
            });
            return double.IsFinite(result.Top1) ? 0 : 1;
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            return interrupts.ExitCode; // the interrupt handler has printed the one line on Ctrl-C
        }
    }

    /// <summary>A backbone file (torchvision names, fc.* ignored), a whole pretraining checkpoint (model.backbone.*),
    /// or a PyTorch .pth (a state dict, or a checkpoint's 'model' entry with module.backbone.* keys); the prefix is
    /// recognised and the load reported in one line.</summary>
    public static void LoadBackbone(ResNet backbone, string path)
    {
        var load = StateDictFile.Load(backbone, path, StateDictFile.AutoPrefix, ignore: name => name.StartsWith("fc.", StringComparison.Ordinal));
        Console.WriteLine(load);
    }
}
