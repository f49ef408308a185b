using Vicreg.Engine;
using Vicreg.Engine.Autograd;
using Vicreg.Engine.IO;
using Vicreg.Engine.Nn;
using Vicreg.Models;
using Vicreg.Tests.Engine.IO;
using Vicreg.Tests.Models;

namespace Vicreg.Tests.Commands;

public class EmbedCommandTests
{
    // A quarter-width ResNet-18 (0.7 M parameters) keeps the test quick; the full widths share the code.
    private const double Width = 0.25;

    /// <summary>A ResNet-18 (cifar stem, grayscale) with non-trivial BN statistics and residual branches, saved as weights.</summary>
    private static ResNet SavedModel(string path)
    {
        var rng = new Rng(41);
        var model = Backbones.Create("resnet18", ResNetStem.Cifar, Width, 1, ref rng);
        foreach (var (name, t) in model.StateDict())
        {
            if (name.EndsWith("running_var", StringComparison.Ordinal) || (t.Rank == 1 && name.EndsWith("weight", StringComparison.Ordinal)))
                Init.Uniform(t, 0.5, 1.5, ref rng);
            else if (name.EndsWith("running_mean", StringComparison.Ordinal) || name.EndsWith("bias", StringComparison.Ordinal))
                Init.Uniform(t, -0.2, 0.2, ref rng);
        }
        StateDictFile.Save(model, path);
        return model;
    }

    [Fact]
    public void NonFiniteInputIsOneWarningLine()
    {
        using var dir = new TempFolder();
        SavedModel(dir.File("w.safetensors"));
        var rng = new Rng(43);
        var pixels = Enumerable.Range(0, 2 * 1 * 9 * 9).Select(_ => (float)rng.NextNormal()).ToArray();
        pixels[17] = float.NaN;
        using var scope = TensorScope.Begin();
        SafetensorsWriter.Write(dir.File("x.safetensors"), [("x", Tensor.FromArray<float>(pixels, new Shape(2, 1, 9, 9)))]);
        var result = CommandRunner.Run("embed", "--arch", "resnet18", "--stem", "cifar", "--in-channels", "1", "--width", "0.25",
            "--weights", dir.File("w.safetensors"), "--input", dir.File("x.safetensors"), "--output", dir.File("y.safetensors"), "--device", "cpu");
        Assert.True(result.Code == 0, result.Err);
        var lines = result.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, "expected one warning line, got: " + result.Err);
        Assert.Contains("warning", lines[0]);
        Assert.Contains("x has 1 of 162", lines[0]);
    }

    [Fact]
    public void FeaturesEqualTheBackbonesEvalOutputInAnyBatching()
    {
        using var dir = new TempFolder();
        var model = SavedModel(dir.File("w.safetensors"));
        var rng = new Rng(42);
        const int n = 5;
        var pixels = Enumerable.Range(0, n * 1 * 10 * 9).Select(_ => (float)rng.NextNormal()).ToArray();
        using var scope = TensorScope.Begin();
        var x = Tensor.FromArray<float>(pixels, new Shape(n, 1, 10, 9));
        SafetensorsWriter.Write(dir.File("x.safetensors"), [("x", x)]);

        var result = CommandRunner.Run("embed", "--arch", "resnet18", "--stem", "cifar", "--in-channels", "1", "--width", "0.25",
            "--weights", dir.File("w.safetensors"), "--input", dir.File("x.safetensors"), "--output", dir.File("y.safetensors"),
            "--batch-size", "2", "--device", "cpu");
        Assert.True(result.Code == 0, result.Err);

        model.Eval();
        float[] expected;
        using (Tape.NoGrad()) expected = model.Forward(x).ToArray<float>();
        using var r = new SafetensorsReader(dir.File("y.safetensors"));
        var features = r.ReadTensor("features");
        Assert.Equal(new Shape(n, 128), features.Shape);
        ResNetTests.AssertClose(expected, features.ToArray<float>(), 1e-5);
    }

    [Fact]
    public void WeightsOfAnotherArchitectureOrImagesOfAnotherShapeAreOneLineAndExitCodeTwo()
    {
        using var dir = new TempFolder();
        SavedModel(dir.File("w.safetensors"));
        using var scope = TensorScope.Begin();
        SafetensorsWriter.Write(dir.File("x.safetensors"), [("x", Tensor.Full(new Shape(2, 1, 8, 8), 0.5))]);
        string[] Common(string arch, string stem, string channels) =>
            ["embed", "--arch", arch, "--stem", stem, "--in-channels", channels, "--width", "0.25", "--weights", dir.File("w.safetensors"),
             "--input", dir.File("x.safetensors"), "--output", dir.File("y.safetensors"), "--device", "cpu"];

        CommandRunner.AssertUsageError(CommandRunner.Run(Common("resnet34", "cifar", "1")), "missing (layer1.2.conv1.weight");
        CommandRunner.AssertUsageError(CommandRunner.Run(Common("resnet18", "imagenet", "1")), "conv1.weight: model [16, 1, 7, 7], file [16, 1, 3, 3]");
        CommandRunner.AssertUsageError(CommandRunner.Run(Common("resnet18", "cifar", "3")), "conv1.weight");
        CommandRunner.AssertUsageError(CommandRunner.Run(Common("resnet19", "cifar", "1")), "unknown arch");
        Assert.False(File.Exists(dir.File("y.safetensors")));

        SafetensorsWriter.Write(dir.File("x3.safetensors"), [("x", Tensor.Full(new Shape(2, 3, 8, 8), 0.5))]);
        var wrongImages = Common("resnet18", "cifar", "1");
        wrongImages[12] = dir.File("x3.safetensors");
        CommandRunner.AssertUsageError(CommandRunner.Run(wrongImages), "must be [N, 1, H, W]");
    }

    [SkippableFact]
    public void EmbedsADatasetSplitWithItsLabels()
    {
        Skip.IfNot(Directory.Exists(global::Vicreg.Engine.Data.Datasets.IdxDataset.DebianFashionMnistFolder), "Debian's dataset-fashion-mnist is not installed");
        using var dir = new TempFolder();
        SavedModel(dir.File("w.safetensors"));
        string[] Args(string output, string batch) =>
            ["embed", "--arch", "resnet18", "--stem", "cifar", "--width", "0.25", "--weights", dir.File("w.safetensors"),
             "--dataset", "fashion-mnist", "--split", "test", "--limit", "5", "--batch-size", batch, "--num-workers", "1",
             "--output", output, "--device", "cpu"];
        var result = CommandRunner.Run(Args(dir.File("a.safetensors"), "2"));
        Assert.True(result.Code == 0, result.Err);
        Assert.Equal(0, CommandRunner.Run(Args(dir.File("b.safetensors"), "5")).Code);

        var test = global::Vicreg.Augment.DatasetCatalog.Open("fashion-mnist", null, train: false);
        using var a = new SafetensorsReader(dir.File("a.safetensors"));
        using var b = new SafetensorsReader(dir.File("b.safetensors"));
        using var scope = TensorScope.Begin();
        Assert.Equal(Enumerable.Range(0, 5).Select(test.Dataset.Label), a.ReadTensor("labels").ToArray<int>());
        var fa = a.ReadTensor("features");
        Assert.Equal(new Shape(5, 128), fa.Shape);
        ResNetTests.AssertClose(b.ReadTensor("features").ToArray<float>(), fa.ToArray<float>(), 1e-5);
        Assert.Contains(fa.ToArray<float>(), v => v > 0);

        CommandRunner.AssertUsageError(CommandRunner.Run([.. Args(dir.File("c.safetensors"), "2"), "--input", dir.File("a.safetensors")]), "not both");
    }
}
