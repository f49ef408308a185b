using Vicreg.Engine;
using Vicreg.Engine.Models;
using Vicreg.Tests.App.Commands;
using Vicreg.Tests.App.Datasets;
using Vicreg.Tests.Engine.IO;
using Vicreg.Training;

namespace Vicreg.Tests.App.Training;

/// <summary>A run that cannot fit in memory is refused before it allocates, with one line naming what it
/// needs and what is available; the estimate walks the same shapes as the network it describes.</summary>
public class MemoryFootprintTests
{
    [Theory]
    [InlineData("resnet18", "cifar", 0.25, 1)]
    [InlineData("resnet34", "imagenet", 0.125, 3)]
    [InlineData("resnet50", "imagenet", 0.25, 3)]
    [InlineData("resnet101", "cifar", 0.125, 2)]
    public void TheShapeWalkCountsTheBuiltNetworksParameters(string arch, string stem, double width, int channels)
    {
        var rng = new Rng(71);
        var model = Backbones.Create(arch, ResNetStems.Parse(stem), width, channels, ref rng);
        var shape = ResNetShape.Of(arch, ResNetStems.Parse(stem), width, channels, 33, 29);
        Assert.Equal(model.ParameterCount(), shape.Parameters);
        Assert.Equal(model.RepresentationSize, shape.RepresentationSize);
    }

    [Fact]
    public void ActivationsGrowWithTheImageAndTheBatch()
    {
        var small = ResNetShape.Of("resnet50", ResNetStem.Imagenet, 1, 3, 112, 112);
        var large = ResNetShape.Of("resnet50", ResNetStem.Imagenet, 1, 3, 224, 224);
        Assert.InRange(large.ActivationsPerSample / (double)small.ActivationsPerSample, 3.5, 4.1); // 4x the pixels (but the pooled end)
        var one = MemoryFootprint.Pretraining("resnet18", ResNetStem.Cifar, 1, 3, 32, 32, "2048-2048-2048", 1);
        var many = MemoryFootprint.Pretraining("resnet18", ResNetStem.Cifar, 1, 3, 32, 32, "2048-2048-2048", 256);
        Assert.Equal(one.ParameterBytes, many.ParameterBytes);
        Assert.Equal(256 * one.ActivationBytes, many.ActivationBytes);
        // ResNet-18 (11.2 M) + expander 512-2048-2048-2048 (9.4 M): 20.6 M parameters, 12 bytes each when training.
        Assert.InRange(one.ParameterBytes, 12 * 20_500_000L, 12 * 20_700_000L);
    }

    [Fact]
    public void AnExpanderTooLargeForThisMachineIsRefusedBeforeItIsBuilt()
    {
        // 2 x 10^10 parameters: 240 GB of weights, gradients and LARS state.
        using var root = new TempFolder();
        string data = DatasetDetectionTests.Cifar10(root, "cifar");
        var result = CommandRunner.Run("pretrain", "--dataset", "cifar10", "--data-dir", data, "--exp-dir", root.File("exp"), "--width", "0.0625",
            "--mlp", "100000-100000-100000", "--batch-size", "8", "--device", "cpu", "--num-workers", "1");
        CommandRunner.AssertUsageError(result, "needs about");
        Assert.Contains("is available", result.Err);
        Assert.Contains("GiB", result.Err);
        Assert.False(File.Exists(Path.Combine(root.File("exp"), "checkpoint.safetensors")));
    }

    [Fact]
    public void ABatchLargerThanTheDataSetIsTheWholeDataSet()
    {
        using var root = new TempFolder();
        string data = DatasetDetectionTests.Cifar10(root, "cifar");
        var rng = new Rng(72);
        Vicreg.Engine.IO.StateDictFile.Save(Backbones.Create("resnet18", ResNetStem.Cifar, 0.0625, 3, ref rng), root.File("w.safetensors"));
        var embed = CommandRunner.Run("embed", "--dataset", "cifar10", "--data-dir", data, "--weights", root.File("w.safetensors"), "--arch", "resnet18",
            "--stem", "cifar", "--width", "0.0625", "--output", root.File("f.safetensors"), "--batch-size", "1000000000", "--device", "cpu");
        Assert.True(embed.Code == 0, embed.Err);
        var probe = CommandRunner.Run("linear-eval", "--dataset", "cifar10", "--data-dir", data, "--weights", root.File("w.safetensors"),
            "--width", "0.0625", "--epochs", "1", "--batch-size", "1000000000", "--device", "cpu");
        Assert.True(probe.Code == 0, probe.Err);
    }
}
