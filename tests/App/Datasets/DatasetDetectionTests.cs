using System.Buffers.Binary;
using Vicreg.Datasets;
using Vicreg.Engine.Data.Datasets;
using Vicreg.Engine.Data;
using Vicreg.Engine.IO;
using Vicreg.Engine;
using Vicreg.Engine.Models;
using Vicreg.Tests.App.Commands;
using Vicreg.Tests.Engine.IO;

namespace Vicreg.Tests.App.Datasets;

/// <summary>With no --dataset, the data set is what --data-dir holds (a paper's command line gives only
/// --data-dir), Fashion-MNIST only when neither flag is given, and the first output line says which.</summary>
public class DatasetDetectionTests
{
    private static string Folder(TempFolder root, string name) => Directory.CreateDirectory(root.File(name)).FullName;

    /// <summary>CIFAR-10's five training binaries and its test binary, <paramref name="records"/> random images each.</summary>
    internal static string Cifar10(TempFolder root, string name, int records = 4)
    {
        string dir = Folder(root, name);
        var rng = new Rng(61);
        foreach (var file in new[] { "data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin" })
        {
            var bytes = new byte[records * 3073];
            for (int i = 0; i < bytes.Length; i++) bytes[i] = (byte)rng.Uniform(0, 256);
            for (int r = 0; r < records; r++) bytes[r * 3073] = (byte)(r % 10);
            File.WriteAllBytes(Path.Combine(dir, file), bytes);
        }
        return dir;
    }

    /// <summary>An IDX image file of 28x28 images whose pixels average <paramref name="brightness"/> (0 to 1).</summary>
    private static void IdxImages(string dir, double brightness)
    {
        const int n = 50;
        var rng = new Rng(62);
        var b = new byte[16 + n * 784];
        BinaryPrimitives.WriteInt32BigEndian(b, 2051);
        BinaryPrimitives.WriteInt32BigEndian(b.AsSpan(4), n);
        BinaryPrimitives.WriteInt32BigEndian(b.AsSpan(8), 28);
        BinaryPrimitives.WriteInt32BigEndian(b.AsSpan(12), 28);
        for (int i = 16; i < b.Length; i++) b[i] = rng.Bernoulli(brightness) ? (byte)255 : (byte)0;
        File.WriteAllBytes(Path.Combine(dir, "train-images-idx3-ubyte"), b);
    }

    [Fact]
    public void EachKindOfFolderIsRecognized()
    {
        using var root = new TempFolder();
        Assert.Equal("cifar10", DatasetDetection.Detect(Cifar10(root, "c10")).Name);
        string c100 = Folder(root, "c100");
        Directory.CreateDirectory(Path.Combine(c100, "cifar-100-binary"));
        File.WriteAllBytes(Path.Combine(c100, "cifar-100-binary", "train.bin"), [1, 2, 3]);
        Assert.Equal("cifar100", DatasetDetection.Detect(c100).Name);
        string images = Folder(root, "photos");
        Directory.CreateDirectory(Path.Combine(images, "train", "n01440764"));
        Assert.Equal("imagefolder", DatasetDetection.Detect(images).Name);

        // IDX files: the folder's name says which when it can, else the pixels (digits are dark, clothes bright).
        foreach (var (name, brightness, expected) in new[] { ("my-fashion", 0.1, "fashion-mnist"), ("MNIST", 0.4, "mnist"), ("idx-dark", 0.1, "mnist"), ("idx-bright", 0.35, "fashion-mnist") })
        {
            string dir = Folder(root, name);
            IdxImages(dir, brightness);
            Assert.Equal(expected, DatasetDetection.Detect(dir).Name);
        }

        var e = Assert.Throws<DatasetException>(() => DatasetDetection.Detect(Folder(root, "empty")));
        Assert.Contains("--dataset", e.Message);
        Assert.Throws<DatasetException>(() => DatasetDetection.Detect(root.File("absent")));
    }

    [SkippableFact]
    public void RealFashionMnistInAPlainlyNamedFolderIsTakenForFashionMnist()
    {
        string debian = IdxDataset.DefaultFashionMnistPath();
        Skip.IfNot(File.Exists(Path.Combine(debian, "train-images-idx3-ubyte.gz")), $"skipped: Fashion-MNIST not installed at {debian}");
        using var root = new TempFolder();
        string dir = Folder(root, "data");
        File.CreateSymbolicLink(Path.Combine(dir, "train-images-idx3-ubyte.gz"), Path.Combine(debian, "train-images-idx3-ubyte.gz"));
        var (name, evidence) = DatasetDetection.Detect(dir);
        Assert.Equal("fashion-mnist", name);
        Assert.Contains("brightness", evidence);
    }

    [Fact]
    public void PretrainWithOnlyDataDirTrainsOnWhatTheFolderHoldsAndSaysSoFirst()
    {
        using var root = new TempFolder();
        string data = Cifar10(root, "cifar");
        var result = CommandRunner.Run("pretrain", "--data-dir", data, "--exp-dir", root.File("exp"), "--arch", "resnet18", "--width", "0.0625",
            "--mlp", "16-16", "--batch-size", "8", "--max-steps", "1", "--device", "cpu", "--num-workers", "1");
        Assert.True(result.Code == 0, result.Err);
        Assert.StartsWith($"data set: cifar10, from what --data-dir {data} holds", result.Out);
        Assert.Contains("20 images", result.Out);
    }

    [Fact]
    public void EmbedAndLinearEvalWithOnlyDataDirUseWhatTheFolderHolds()
    {
        using var root = new TempFolder();
        string data = Cifar10(root, "cifar");
        var rng = new Rng(63);
        StateDictFile.Save(Backbones.Create("resnet18", ResNetStem.Cifar, 0.0625, 3, ref rng), root.File("w.safetensors"));

        var embed = CommandRunner.Run("embed", "--data-dir", data, "--weights", root.File("w.safetensors"), "--arch", "resnet18", "--stem", "cifar",
            "--width", "0.0625", "--output", root.File("f.safetensors"), "--device", "cpu", "--num-workers", "1");
        Assert.True(embed.Code == 0, embed.Err);
        Assert.StartsWith("data set: cifar10", embed.Out);
        Assert.Contains("4 images of cifar10", embed.Out);

        var probe = CommandRunner.Run("linear-eval", "--data-dir", data, "--weights", root.File("w.safetensors"), "--width", "0.0625",
            "--epochs", "1", "--device", "cpu", "--num-workers", "1");
        Assert.True(probe.Code == 0, probe.Err);
        Assert.StartsWith("data set: cifar10", probe.Out);
    }

    [SkippableFact]
    public void WithNeitherFlagTheDefaultFashionMnistIsNamedFirst()
    {
        Skip.IfNot(Directory.Exists(IdxDataset.DefaultFashionMnistPath()), "skipped: Fashion-MNIST not installed");
        using var root = new TempFolder();
        var result = CommandRunner.Run("pretrain", "--exp-dir", root.File("exp"), "--width", "0.0625", "--mlp", "16-16", "--limit", "16",
            "--batch-size", "8", "--max-steps", "1", "--device", "cpu", "--num-workers", "1");
        Assert.True(result.Code == 0, result.Err);
        Assert.StartsWith("data set: fashion-mnist (the default: neither --dataset nor --data-dir given)", result.Out);
    }
}
