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
/// </summary>
public sealed class LinearEvalCommand : ICommand
{
    public string Name => "linear-eval";
    public string Summary => "train a linear classifier on frozen features and report top-1 / top-5";

    public int Run(Arguments a, string commandLine)
    {
        string weights = a.String("weights", "", "backbone.safetensors, a checkpoint.safetensors, 'random', or 'pixels'");
        string dataset = a.String("dataset", "fashion-mnist", $"data set: {string.Join(", ", DatasetCatalog.Names)}");
        string? dataDir = a.OptionalString("data-dir", "data folder (default for fashion-mnist: Debian's dataset-fashion-mnist folder)");
        string arch = a.String("arch", "resnet18", $"backbone: {string.Join(", ", Backbones.Architectures)}");
        string stemFlag = a.String("stem", "auto", "imagenet, cifar, or auto (cifar for small images)");
        double width = a.Double("width", 1, "channel width multiplier of the backbone", 0.0625, 8);
        double lrHead = a.Double("lr-head", 0.02, "learning rate of the linear head", 0);
        int epochs = a.Int("epochs", 100, "epochs of head training", 1);
        int batchSize = a.Int("batch-size", 256, "batch size", 1);
        double weightDecay = a.Double("weight-decay", 1e-6, "weight decay of the head", 0);
        int limit = a.Int("limit", 0, "use only the first N training images (0 = all)", 0);
        int imageSize = a.Int("image-size", 224, "evaluation crop for imagefolder data", 16, 1024);
        int workers = a.Int("num-workers", Math.Max(1, Environment.ProcessorCount), "data-loading threads", 0, 256);
        string device = a.String("device", "auto", "cpu, cuda, or auto");
        bool noTf32 = a.Switch("no-tf32", "CUDA: full float32 GEMMs and convolutions instead of TF32 tensor cores");
        ulong seed = (ulong)a.Int("seed", 0, "seed of the head's initialisation and shuffling", 0);
        string? expDir = a.OptionalString("exp-dir", "folder for linear_eval.txt (the result as a JSON line)");
        if (a.HelpRequested)
        {
            Console.WriteLine(a.Usage(Summary + ".\nFeatures are computed once with the evaluation transform and standardised per dimension; the head then trains on them."));
            return 0;
        }
        a.RejectUnknown();
        if (weights.Length == 0) throw new UsageException("linear-eval: --weights is required (a .safetensors file, 'random' or 'pixels')");
        if (weights is not ("random" or "pixels") && !File.Exists(weights)) throw new UsageException($"linear-eval: weights file not found: {weights}");

        var result = CommandErrors.Guard(() =>
        {
            var backend = BackendSelector.Resolve(device, Console.WriteLine, allowTf32: !noTf32);
            var train = DatasetCatalog.Open(dataset, dataDir, train: true, imageSize);
            var test = DatasetCatalog.Open(dataset, dataDir, train: false, imageSize);
            var trainSet = DatasetCatalog.Limit(train.Dataset, limit);
            string stem = stemFlag == "auto" ? (train.IsSmall ? "cifar" : "imagenet") : stemFlag;
            ResNet? backbone = null;
            if (weights != "pixels")
            {
                var rng = new Rng(seed);
                backbone = Backbones.Create(arch, ResNetStems.Parse(stem), width, train.Channels, ref rng, backend: backend);
                if (weights != "random") LoadBackbone(backbone, weights);
            }
            var clock = Stopwatch.StartNew();
            var view = train.Evaluation;
            var trainFeatures = FeatureExtractor.Extract(backbone, trainSet, view, backend, batchSize, workers, new ProgressLine("features (train)", trainSet.Count, "images"));
            var testFeatures = FeatureExtractor.Extract(backbone, test.Dataset, view, backend, batchSize, workers, new ProgressLine("features (test)", test.Dataset.Count, "images"));
            var probe = new LinearProbe(epochs, batchSize, lrHead, weightDecay, seed);
            var progress = new ProgressLine("linear head", epochs, "epochs");
            var accuracy = probe.Run(trainFeatures, testFeatures, train.Dataset.Classes.Count, backend,
                (epoch, loss) => progress.Report(epoch + 1, $"loss {loss:F4}"));
            progress.Finish();
            string what = weights is "random" or "pixels" ? weights : Path.GetFileName(weights);
            Console.WriteLine($"linear-eval {what}: top-1 {accuracy.Top1:F2}%  top-5 {accuracy.Top5:F2}%  ({trainFeatures.Dimension}-d features, {trainSet.Count} train / {test.Dataset.Count} test images, {ProgressLine.Format(clock.Elapsed)})");
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
                    json.WriteNumber("feature_dim", trainFeatures.Dimension);
                });
            }
            return accuracy;
        });
        return double.IsFinite(result.Top1) ? 0 : 1;
    }

    /// <summary>A backbone file (torchvision names, fc.* ignored) or a whole pretraining checkpoint (model.backbone.*).</summary>
    public static void LoadBackbone(ResNet backbone, string path)
    {
        using var reader = new SafetensorsReader(path);
        string prefix = reader.Contains("model.backbone.conv1.weight") ? "model.backbone." : "";
        StateDictFile.Load(backbone, reader, prefix, ignore: name => name.StartsWith("fc.", StringComparison.Ordinal));
    }
}
