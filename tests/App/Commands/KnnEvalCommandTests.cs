using System.Text.Json;
using Vicreg.Engine;
using Vicreg.Engine.Data.Datasets;
using Vicreg.Engine.IO;
using Vicreg.Engine.Models;
using Vicreg.Tests.Engine.IO;

namespace Vicreg.Tests.App.Commands;

/// <summary>Tiny `vicreg knn-eval` runs on the first images of Fashion-MNIST (Debian's dataset-fashion-mnist).</summary>
public class KnnEvalCommandTests
{
    private static void RequireFashionMnist() =>
        Skip.IfNot(Directory.Exists(IdxDataset.DefaultFashionMnistPath()),
            $"skipped: Fashion-MNIST not installed at {IdxDataset.DefaultFashionMnistPath()} (tools/install-deps.sh installs it)");

    private static string[] Tiny(string weights, string expDir, params string[] more) =>
        ["knn-eval", "--weights", weights, "--width", "0.0625", "--limit", "400", "--limit-test", "150", "--batch-size", "64",
         "--num-workers", "2", "--device", "cpu", "--exp-dir", expDir, .. more];

    private static JsonElement Result(string expDir)
    {
        var lines = File.ReadAllLines(Path.Combine(expDir, "knn_eval.txt"));
        Assert.Equal(2, lines.Length);
        Assert.StartsWith("vicreg knn-eval", lines[0]);
        return JsonDocument.Parse(lines[1]).RootElement.Clone();
    }

    [SkippableFact]
    public void RawPixelsAreFarAboveChanceAndTheResultIsWritten()
    {
        RequireFashionMnist();
        using var dir = new TempFolder();
        var result = CommandRunner.Run(Tiny("pixels", dir.Path, "--k", "20"));
        Assert.True(result.Code == 0, result.Err);
        Assert.Contains("knn-eval pixels: top-1 ", result.Out);
        Assert.Contains("(k 20, T 0.1, 784-d L2-normalized features; 400 train / 150 test images", result.Out);
        var json = Result(dir.Path);
        // kNN on raw Fashion-MNIST pixels is about 85% with all 60000 training images; 400 still put it far above chance (10%),
        // which a misaligned label or a wrong sign of the similarity would not.
        Assert.InRange(json.GetProperty("top1").GetDouble(), 55, 100);
        Assert.InRange(json.GetProperty("top5").GetDouble(), json.GetProperty("top1").GetDouble(), 100);
        Assert.Equal(20, json.GetProperty("k").GetInt32());
        Assert.Equal(784, json.GetProperty("feature_dim").GetInt32());
    }

    [SkippableFact]
    public void RandomBackboneRunsAndKAboveTheTrainingCountUsesThemAll()
    {
        RequireFashionMnist();
        using var dir = new TempFolder();
        var result = CommandRunner.Run(Tiny("random", dir.Path, "--k", "1000", "--temperature", "0.07"));
        Assert.True(result.Code == 0, result.Err);
        var json = Result(dir.Path);
        Assert.Equal(400, json.GetProperty("k").GetInt32());
        Assert.Equal(32, json.GetProperty("feature_dim").GetInt32()); // ResNet-18 at width 1/16
        Assert.Equal(0.07, json.GetProperty("temperature").GetDouble());
        Assert.InRange(json.GetProperty("top1").GetDouble(), 0, 100);
    }

    [SkippableFact]
    public void WeightsWithNaNAreOneLineAndExitCodeTwo()
    {
        RequireFashionMnist();
        using var dir = new TempFolder();
        var rng = new Rng(3);
        var model = Backbones.Create("resnet18", ResNetStem.Cifar, 0.0625, 1, ref rng);
        var conv = model.StateDict().First(p => p.Name == "conv1.weight").Tensor;
        conv.AsSpan<float>()[0] = float.NaN;
        StateDictFile.Save(model, dir.File("nan.safetensors"));
        var result = CommandRunner.Run(Tiny(dir.File("nan.safetensors"), dir.Path));
        // Refused at load, naming the tensor, before any feature is computed.
        CommandRunner.AssertUsageError(result, "tensor 'conv1.weight' holds 1 non-finite value");
        Assert.DoesNotContain("features (train)", result.Err);
        Assert.False(File.Exists(dir.File("knn_eval.txt")));
    }

    [Fact]
    public void HelpAndFlagMistakes()
    {
        var help = CommandRunner.Run("knn-eval", "--help");
        Assert.Equal(0, help.Code);
        foreach (var flag in new[] { "--weights", "--k", "--temperature", "--limit-test", "--exp-dir" }) Assert.Contains(flag, help.Out);
        Assert.Contains("knn-eval", CommandRunner.Run("--help").Out);
        CommandRunner.AssertUsageError(CommandRunner.Run("knn-eval"), "--weights is required");
        CommandRunner.AssertUsageError(CommandRunner.Run("knn-eval", "--weights", "/no/such.safetensors"), "weights file not found");
        CommandRunner.AssertUsageError(CommandRunner.Run("knn-eval", "--weights", "pixels", "--k", "0"), "--k must be at least 1");
        CommandRunner.AssertUsageError(CommandRunner.Run("knn-eval", "--weights", "pixels", "--temperature", "0.001"), "--temperature must be at least 0.01");
    }
}
