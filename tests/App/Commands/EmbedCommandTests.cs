using Vicreg.Engine;
using Vicreg.Engine.Autograd;
using Vicreg.Engine.IO;
using Vicreg.Engine.Nn;
using Vicreg.Engine.Models;
using Vicreg.Tests.Engine.IO;
using Vicreg.Tests.Engine.Data;
using Vicreg.Tests.Engine.Models;

namespace Vicreg.Tests.App.Commands;

public class EmbedCommandTests
{
    // A quarter-width ResNet-18 (0.7 M parameters) keeps the test quick; the full widths share the code.
    private const double Width = 0.25;

    /// <summary>A ResNet-18 (cifar stem, grayscale) with non-trivial BN statistics and residual branches, saved as weights.</summary>
    private static ResNet SavedModel(string path, int channels = 1)
    {
        var rng = new Rng(41);
        var model = Backbones.Create("resnet18", ResNetStem.Cifar, Width, channels, ref rng);
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

        var test = global::Vicreg.Datasets.DatasetCatalog.Open("fashion-mnist", null, train: false);
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

    /// <summary>Sets one element of a weights file's tensor to <paramref name="value"/> (NaN, infinity).</summary>
    internal static void Poison(string path, string tensor, float value)
    {
        List<(string, Tensor)> tensors;
        Dictionary<string, string> metadata;
        using (var r = new SafetensorsReader(path))
        {
            metadata = new Dictionary<string, string>(r.Metadata);
            tensors = r.Entries.Select(e => (e.Name, r.ReadTensor(e.Name))).ToList();
        }
        var t = tensors.First(p => p.Item1 == tensor).Item2;
        var values = t.ToArray<float>();
        values[values.Length / 3] = value;
        t.CopyFrom<float>(values);
        SafetensorsWriter.Write(path, tensors, metadata);
    }

    [Fact]
    public void WeightsHoldingNaNAreOneLineNamingTheTensor()
    {
        using var dir = new TempFolder();
        SavedModel(dir.File("w.safetensors"));
        Poison(dir.File("w.safetensors"), "layer3.1.bn2.running_var", float.NaN);
        using var scope = TensorScope.Begin();
        SafetensorsWriter.Write(dir.File("x.safetensors"), [("x", Tensor.Full(new Shape(2, 1, 8, 8), 0.5))]);
        var result = CommandRunner.Run("embed", "--arch", "resnet18", "--stem", "cifar", "--in-channels", "1", "--width", "0.25",
            "--weights", dir.File("w.safetensors"), "--input", dir.File("x.safetensors"), "--output", dir.File("y.safetensors"), "--device", "cpu");
        CommandRunner.AssertUsageError(result, "tensor 'layer3.1.bn2.running_var' holds 1 non-finite value");
        Assert.False(File.Exists(dir.File("y.safetensors")));
    }

    [Fact]
    public void ImagesWithAnEmptyDimensionAreOneLineAndExitCodeTwo()
    {
        using var dir = new TempFolder();
        SavedModel(dir.File("w.safetensors"));
        // Written by hand: x of shape [2, 1, 0, 28] holds no bytes.
        string header = "{\"x\":{\"dtype\":\"F32\",\"shape\":[2,1,0,28],\"data_offsets\":[0,0]}}";
        header = header.PadRight((header.Length + 7) / 8 * 8);
        var bytes = new byte[8 + header.Length];
        BitConverter.TryWriteBytes(bytes, (long)header.Length);
        System.Text.Encoding.ASCII.GetBytes(header).CopyTo(bytes, 8);
        File.WriteAllBytes(dir.File("x.safetensors"), bytes);
        var result = CommandRunner.Run("embed", "--arch", "resnet18", "--stem", "cifar", "--in-channels", "1", "--width", "0.25",
            "--weights", dir.File("w.safetensors"), "--input", dir.File("x.safetensors"), "--output", dir.File("y.safetensors"), "--device", "cpu");
        CommandRunner.AssertUsageError(result, "[2, 1, 0, 28]");
        Assert.False(File.Exists(dir.File("y.safetensors")));
    }

    /// <summary>An image folder's val/ split: class a with three images (the second <paramref name="bad"/> when given), class b with one.</summary>
    private static void ImageFolder(string root, byte[]? bad)
    {
        foreach (var cls in new[] { "a", "b" }) Directory.CreateDirectory(Path.Combine(root, "val", cls));
        for (int i = 0; i < 3; i++)
        {
            if (i == 1 && bad is null) continue;
            byte[] jpeg = i == 1 ? bad! : global::Vicreg.Engine.Data.Decoding.JpegEncoder.Encode(TestImages.Smooth(21, 19, 3, (ulong)i + 3), 21, 19, 3, 90);
            File.WriteAllBytes(Path.Combine(root, "val", "a", $"img{i}.jpg"), jpeg);
        }
        File.WriteAllBytes(Path.Combine(root, "val", "b", "img3.jpg"),
            global::Vicreg.Engine.Data.Decoding.JpegEncoder.Encode(TestImages.Smooth(17, 23, 3, 9), 17, 23, 3, 90));
    }

    [Fact]
    public void AnUnreadableImageOfAFolderHasNoRowAndTheFileListSaysWhichFileEachRowIs()
    {
        using var dir = new TempFolder();
        SavedModel(dir.File("w.safetensors"), channels: 3);
        string[] Args(string root, string output) =>
            ["embed", "--arch", "resnet18", "--stem", "cifar", "--width", "0.25", "--weights", dir.File("w.safetensors"),
             "--dataset", "imagefolder", "--data-dir", root, "--image-size", "16", "--batch-size", "2", "--num-workers", "2",
             "--output", output, "--device", "cpu"];
        string withBad = dir.File("with-bad"), clean = dir.File("clean");
        ImageFolder(withBad, bad: [0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 0x4A]);
        ImageFolder(clean, bad: null);
        var result = CommandRunner.Run(Args(withBad, dir.File("y.safetensors")));
        Assert.True(result.Code == 0, result.Err);
        string badFile = Path.Combine(withBad, "val", "a", "img1.jpg");
        Assert.Contains($"skipping unreadable image {badFile}", result.Err);
        Assert.Contains("3 images of imagefolder, 1 unreadable skipped", result.Out);
        Assert.Equal(0, CommandRunner.Run(Args(clean, dir.File("z.safetensors"))).Code);

        using var scope = TensorScope.Begin();
        using var y = new SafetensorsReader(dir.File("y.safetensors"));
        using var z = new SafetensorsReader(dir.File("z.safetensors"));
        Assert.Equal([0, 0, 1], y.ReadTensor("labels").ToArray<int>());
        Assert.Equal([0, 2, 3], y.ReadTensor("indices").ToArray<int>());
        var features = y.ReadTensor("features");
        Assert.Equal(new Shape(3, 128), features.Shape);
        // Row for row the features of the same folder without the bad file.
        Assert.Equal(z.ReadTensor("features").ToArray<float>(), features.ToArray<float>());
        var lines = File.ReadAllLines(dir.File("y.files.tsv"));
        Assert.Equal(["row\tlabel\tfile", $"0\t0\t{Path.Combine(withBad, "val", "a", "img0.jpg")}", $"-\t0\t{badFile}",
                      $"1\t0\t{Path.Combine(withBad, "val", "a", "img2.jpg")}", $"2\t1\t{Path.Combine(withBad, "val", "b", "img3.jpg")}"], lines);

        var strict = CommandRunner.Run([.. Args(withBad, dir.File("s.safetensors")), "--strict"]);
        CommandRunner.AssertUsageError(strict, badFile);
        Assert.False(File.Exists(dir.File("s.safetensors")));

        // Images of 21 x 19 = 399 pixels pass a limit of 399; 17 x 23 = 391 pass, but not a limit of 398.
        var limited = CommandRunner.Run([.. Args(clean, dir.File("l.safetensors")), "--max-image-pixels", "398"]);
        Assert.True(limited.Code == 0, limited.Err);
        Assert.Contains("399 pixels, over the limit of 398", limited.Err);
        Assert.Contains("1 images of imagefolder, 2 unreadable skipped", limited.Out);
    }
}
