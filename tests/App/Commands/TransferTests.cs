using System.Buffers.Binary;
using Vicreg.Engine;
using Vicreg.Engine.Backends.Cpu;
using Vicreg.Engine.IO;
using Vicreg.Engine.Models;
using Vicreg.Tests.Engine.IO;

namespace Vicreg.Tests.App.Commands;

/// <summary>Transfer: linear-eval and finetune take a backbone pretrained on one data set and evaluate it on another,
/// with the evaluation data set's channels and normalization; a backbone for another number of channels is one line.</summary>
public class TransferTests
{
    /// <summary>A 1-channel backbone as pretraining on Fashion-MNIST leaves it (random weights, width 1/16).</summary>
    private static string Backbone(TempFolder dir, int channels)
    {
        var rng = new Rng(21);
        var backbone = Backbones.Create("resnet18", ResNetStem.Cifar, 0.0625, channels, ref rng, backend: CpuBackend.Instance);
        string path = dir.File($"backbone{channels}.safetensors");
        StateDictFile.Save(backbone, path);
        return path;
    }

    /// <summary>An MNIST folder (IDX files, uncompressed) of 28x28 digits-like images: dark, with bright random strokes.</summary>
    private static string Mnist(TempFolder dir, int count)
    {
        string folder = Directory.CreateDirectory(dir.File("mnist")).FullName;
        var rng = new Rng(8);
        foreach (var prefix in new[] { "train", "t10k" })
        {
            var images = new byte[16 + count * 784];
            BinaryPrimitives.WriteInt32BigEndian(images, 2051);
            BinaryPrimitives.WriteInt32BigEndian(images.AsSpan(4), count);
            BinaryPrimitives.WriteInt32BigEndian(images.AsSpan(8), 28);
            BinaryPrimitives.WriteInt32BigEndian(images.AsSpan(12), 28);
            for (int i = 16; i < images.Length; i++) images[i] = rng.Bernoulli(0.15) ? (byte)rng.NextInt(256) : (byte)0;
            var labels = new byte[8 + count];
            BinaryPrimitives.WriteInt32BigEndian(labels, 2049);
            BinaryPrimitives.WriteInt32BigEndian(labels.AsSpan(4), count);
            for (int i = 0; i < count; i++) labels[8 + i] = (byte)(i % 10);
            File.WriteAllBytes(Path.Combine(folder, $"{prefix}-images-idx3-ubyte"), images);
            File.WriteAllBytes(Path.Combine(folder, $"{prefix}-labels-idx1-ubyte"), labels);
        }
        return folder;
    }

    private static string[] Common(string weights, string dataDir, string expDir) =>
        ["--weights", weights, "--dataset", "mnist", "--data-dir", dataDir, "--width", "0.0625", "--batch-size", "16",
         "--epochs", "1", "--num-workers", "1", "--device", "cpu", "--exp-dir", expDir];

    [Fact]
    public void ABackbonePretrainedOnOneDataSetIsEvaluatedOnAnotherWithItsNormalization()
    {
        using var dir = new TempFolder();
        string weights = Backbone(dir, 1), mnist = Mnist(dir, 40);
        var probe = CommandRunner.Run(["linear-eval", .. Common(weights, mnist, dir.File("probe"))]);
        Assert.True(probe.Code == 0, probe.Err);
        Assert.Contains("evaluation data: mnist, 1 channel, normalized with its own mean [0.1307] and std [0.3081]", probe.Out);
        Assert.Contains("40 train / 40 test images", probe.Out);
        var tuned = CommandRunner.Run(["finetune", .. Common(weights, mnist, dir.File("tuned")), "--train-perc", "100"]);
        Assert.True(tuned.Code == 0, tuned.Err);
        Assert.Contains("evaluation data: mnist", tuned.Out);
        Assert.Contains("on 40 labelled mnist images", tuned.Out);
    }

    [Theory]
    [InlineData("linear-eval")]
    [InlineData("finetune")]
    public void ABackboneForAnotherNumberOfChannelsIsOneLine(string command)
    {
        using var dir = new TempFolder();
        string weights = Backbone(dir, 3), mnist = Mnist(dir, 20);
        CommandRunner.AssertUsageError(CommandRunner.Run([command, .. Common(weights, mnist, dir.File("out"))]),
            "was pretrained on 3-channel images and mnist has 1: the channels cannot match");
    }
}
