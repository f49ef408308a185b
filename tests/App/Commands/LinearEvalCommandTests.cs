using System.Globalization;
using System.Text.Json;
using Vicreg.Engine.Data.Datasets;
using Vicreg.Tests.Engine.IO;

namespace Vicreg.Tests.App.Commands;

/// <summary>Tiny `vicreg linear-eval` runs on the first images of Fashion-MNIST (Debian's dataset-fashion-mnist):
/// the official protocol (--augment) completes, is deterministic for a seed, and differs from the default one.</summary>
public class LinearEvalCommandTests
{
    private static void RequireFashionMnist() =>
        Skip.IfNot(Directory.Exists(IdxDataset.DefaultFashionMnistPath()),
            $"skipped: Fashion-MNIST not installed at {IdxDataset.DefaultFashionMnistPath()} (tools/install-deps.sh installs it)");

    private static string[] Tiny(string weights, string expDir, bool augment, int workers = 2, string lrHead = "0.05") =>
        ["linear-eval", "--weights", weights, "--width", "0.0625", "--limit", "128", "--limit-test", "96", "--epochs", "2",
         "--batch-size", "32", "--lr-head", lrHead, "--num-workers", workers.ToString(CultureInfo.InvariantCulture), "--device", "cpu",
         "--seed", "7", "--exp-dir", expDir, .. (augment ? (string[])["--augment"] : [])];

    /// <summary>Runs the command and returns (top-1, top-5, the last epoch's loss) as linear_eval.txt and the progress line report them.</summary>
    private static (double Top1, double Top5, string Loss) Run(string[] args)
    {
        var result = CommandRunner.Run(args);
        Assert.True(result.Code == 0, result.Err);
        string expDir = args[Array.IndexOf(args, "--exp-dir") + 1];
        var lines = File.ReadAllLines(Path.Combine(expDir, "linear_eval.txt"));
        Assert.Equal(2, lines.Length);
        using var json = JsonDocument.Parse(lines[1]);
        var root = json.RootElement;
        Assert.Equal(args.Contains("--augment"), root.GetProperty("augment").GetBoolean());
        var losses = result.Err.Split('\n').Where(l => l.Contains("loss ")).ToArray();
        Assert.NotEmpty(losses);
        string loss = losses[^1].Split("loss ")[1].Split(' ')[0];
        Assert.True(double.IsFinite(double.Parse(loss, CultureInfo.InvariantCulture)), losses[^1]);
        return (root.GetProperty("top1").GetDouble(), root.GetProperty("top5").GetDouble(), loss);
    }

    [SkippableFact]
    public void AugmentedRunOnARandomBackboneReportsAccuraciesAndWritesLinearEvalTxt()
    {
        RequireFashionMnist();
        using var dir = new TempFolder();
        var result = CommandRunner.Run(Tiny("random", dir.Path, augment: true));
        Assert.True(result.Code == 0, result.Err);
        Assert.Contains("features augmented every step, raw; 128 train / 96 test images", result.Out);
        Assert.Contains("linear head (augmented)", result.Err);
        var lines = File.ReadAllLines(dir.File("linear_eval.txt"));
        Assert.StartsWith("vicreg linear-eval", lines[0]);
        using var json = JsonDocument.Parse(lines[1]);
        double top1 = json.RootElement.GetProperty("top1").GetDouble(), top5 = json.RootElement.GetProperty("top5").GetDouble();
        Assert.InRange(top1, 0, 100);
        Assert.InRange(top5, top1, 100);
        Assert.True(top5 > 0, "top-5 of 10 classes cannot be 0 on 96 images unless the head is broken");
        Assert.Equal(32, json.RootElement.GetProperty("feature_dim").GetInt32()); // ResNet-18 at width 1/16: 512 / 16
        Assert.True(json.RootElement.GetProperty("augment").GetBoolean());
    }

    [SkippableFact]
    public void AugmentedRunIsDeterministicForASeedAndDiffersFromTheDefaultProtocol()
    {
        RequireFashionMnist();
        using var a = new TempFolder();
        using var b = new TempFolder();
        using var c = new TempFolder();
        var first = Run(Tiny("pixels", a.Path, augment: true));
        var second = Run(Tiny("pixels", b.Path, augment: true, workers: 1)); // the loader's bytes do not depend on its threads
        Assert.Equal(first, second);
        Assert.InRange(first.Top1, 20, 100); // raw pixels of Fashion-MNIST are far above chance (10%) even after 2 epochs
        var cached = Run(Tiny("pixels", c.Path, augment: false));
        Assert.NotEqual(first, cached);
    }

    [SkippableFact]
    public void SeveralHeadLearningRatesAreTriedOnHeldOutTrainingImagesAndTheBestTrainsTheFinalHead()
    {
        RequireFashionMnist();
        using var dir = new TempFolder();
        string[] args = [.. Tiny("pixels", dir.Path, augment: false, lrHead: "0,0.05"), "--val-perc", "25"];
        var result = CommandRunner.Run(args);
        Assert.True(result.Code == 0, result.Err);
        Assert.Contains("lr-head 0: validation top-1 ", result.Err);
        Assert.Contains("lr-head 0.05: validation top-1 ", result.Err);
        using var json = JsonDocument.Parse(File.ReadAllLines(dir.File("linear_eval.txt"))[1]);
        var root = json.RootElement;
        var trials = root.GetProperty("lr_head_trials").EnumerateArray()
            .Select(t => (Lr: t.GetProperty("lr_head").GetDouble(), Top1: t.GetProperty("validation_top1").GetDouble())).ToArray();
        Assert.Equal([0.0, 0.05], trials.Select(t => t.Lr));
        // A head that never moves from N(0, 0.01) is near chance; two epochs on pixels are far above it.
        Assert.True(trials[1].Top1 > trials[0].Top1, $"{trials[0].Top1}% vs {trials[1].Top1}%");
        Assert.Equal(0.05, root.GetProperty("lr_head").GetDouble());
        // 25% of 128 images, rounded class by class: within half an image per class of 32.
        int validation = root.GetProperty("validation_images").GetInt32();
        Assert.InRange(validation, 27, 37);
        Assert.Contains($"lr-head 0.05 chosen on {validation} held-out training images", result.Out);
        Assert.Contains("128 train / 96 test images", result.Out); // the final head trains on all of them
    }

    [Theory]
    [InlineData("0.1,0.1", "--lr-head lists a value twice")]
    [InlineData("0.1,fast", "--lr-head wants a number, got 'fast'")]
    [InlineData("0.1,-1", "--lr-head must be")]
    public void AMalformedLearningRateListIsOneLine(string list, string expected)
    {
        using var dir = new TempFolder();
        var result = CommandRunner.Run(Tiny("pixels", dir.Path, augment: false, lrHead: list));
        CommandRunner.AssertUsageError(result, expected);
    }

    [Fact]
    public void SeveralLearningRatesWithAugmentAreRefused()
    {
        using var dir = new TempFolder();
        var result = CommandRunner.Run(Tiny("pixels", dir.Path, augment: true, lrHead: "0.1,1"));
        CommandRunner.AssertUsageError(result, "--augment takes one --lr-head value");
    }

    /// <summary>A backbone with one NaN in conv1.weight once gave "top-1 100.00%" and exit code 0.</summary>
    [SkippableFact]
    public void ABackboneHoldingNaNIsRefusedNamingTheTensor()
    {
        RequireFashionMnist();
        using var dir = new TempFolder();
        var rng = new global::Vicreg.Engine.Rng(12);
        var backbone = global::Vicreg.Engine.Models.Backbones.Create("resnet18", global::Vicreg.Engine.Models.ResNetStem.Cifar, 0.0625, 1, ref rng);
        string weights = dir.File("backbone.safetensors");
        global::Vicreg.Engine.IO.StateDictFile.Save(backbone, weights);
        EmbedCommandTests.Poison(weights, "conv1.weight", float.NaN);
        var result = CommandRunner.Run(Tiny(weights, dir.Path, augment: false));
        CommandRunner.AssertUsageError(result, "tensor 'conv1.weight' holds 1 non-finite value (NaN or infinity)");
        Assert.False(File.Exists(dir.File("linear_eval.txt")));
    }

    [Fact]
    public void UnreadableImagesOfAFolderAreLeftOutOfBothSplitsAndCounted()
    {
        using var dir = new TempFolder();
        string root = dir.File("data");
        foreach (var split in new[] { "train", "val" })
            foreach (var cls in new[] { "a", "b" })
            {
                Directory.CreateDirectory(Path.Combine(root, split, cls));
                for (int i = 0; i < 3; i++)
                    File.WriteAllBytes(Path.Combine(root, split, cls, $"{i}.jpg"), global::Vicreg.Engine.Data.Decoding.JpegEncoder.Encode(
                        Vicreg.Tests.Engine.Data.TestImages.Smooth(18, 18, 3, (ulong)(i + 10 * cls[0])), 18, 18, 3, 90));
            }
        File.WriteAllBytes(Path.Combine(root, "train", "a", "1.jpg"), [0x89, 0x50, 0x4E, 0x47]);
        File.WriteAllBytes(Path.Combine(root, "val", "b", "0.jpg"), []);
        string[] args = ["linear-eval", "--weights", "pixels", "--dataset", "imagefolder", "--data-dir", root, "--image-size", "16",
                         "--epochs", "2", "--batch-size", "4", "--num-workers", "2", "--device", "cpu", "--exp-dir", dir.File("exp")];
        var result = CommandRunner.Run(args);
        Assert.True(result.Code == 0, result.Err);
        Assert.Contains("5 train / 5 test images, 2 unreadable skipped", result.Out);
        using var json = JsonDocument.Parse(File.ReadAllLines(Path.Combine(dir.File("exp"), "linear_eval.txt"))[1]);
        Assert.Equal(2, json.RootElement.GetProperty("skipped_images").GetInt32());

        var strict = CommandRunner.Run([.. args, "--strict"]);
        CommandRunner.AssertUsageError(strict, Path.Combine(root, "train", "a", "1.jpg"));
    }
}
