using System.Diagnostics;
using System.Globalization;
using System.Text;
using Vicreg.Engine;
using Vicreg.Engine.Data.Decoding;
using Vicreg.Engine.IO;
using Vicreg.Engine.Nn;
using Vicreg.Engine.Models;
using Vicreg.Tests.Engine.Data;
using Vicreg.Tests.Engine.IO;
using Vicreg.Tests.Engine.Models;

namespace Vicreg.Tests.App.Commands;

/// <summary>`vicreg embed --images`: image files, folders and lists of paths, the skipped files with their reason,
/// the three output formats, and the inputs that are a user's mistake.</summary>
public class EmbedImagesTests
{
    /// <summary>A quarter-width RGB ResNet-18 (cifar stem) with non-trivial BN statistics, saved as weights.</summary>
    private static void SavedModel(string path)
    {
        var rng = new Rng(47);
        var model = Backbones.Create("resnet18", ResNetStem.Cifar, 0.25, 3, ref rng);
        foreach (var (name, t) in model.StateDict())
        {
            if (name.EndsWith("running_var", StringComparison.Ordinal) || (t.Rank == 1 && name.EndsWith("weight", StringComparison.Ordinal)))
                Init.Uniform(t, 0.5, 1.5, ref rng);
            else if (name.EndsWith("running_mean", StringComparison.Ordinal) || name.EndsWith("bias", StringComparison.Ordinal))
                Init.Uniform(t, -0.2, 0.2, ref rng);
        }
        StateDictFile.Save(model, path);
    }

    private static string[] Embed(string weights, string output, params string[] more) =>
        ["embed", "--arch", "resnet18", "--stem", "cifar", "--width", "0.25", "--weights", weights, "--image-size", "16",
         "--batch-size", "2", "--num-workers", "2", "--output", output, "--device", "cpu", .. more];

    private static byte[] Png(int width, int height, int colorType, ulong seed)
    {
        int channels = TestPngWriter.SamplesPerPixel(colorType);
        return TestPngWriter.Encode(TestImages.Smooth(width, height, channels, seed).Select(b => (int)b).ToArray(), width, height, 8, colorType);
    }

    /// <summary>The float32 matrix of a .npy file, reading its header as the format defines it.</summary>
    internal static (int Rows, int Columns, float[] Values) ReadNpy(string path)
    {
        var bytes = File.ReadAllBytes(path);
        Assert.Equal([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0], bytes[..8]);
        int headerLength = bytes[8] | bytes[9] << 8;
        Assert.Equal(0, (10 + headerLength) % 64);
        string header = Encoding.ASCII.GetString(bytes, 10, headerLength);
        Assert.EndsWith("\n", header);
        var match = System.Text.RegularExpressions.Regex.Match(header, @"^\{'descr': '<f4', 'fortran_order': False, 'shape': \((\d+), (\d+)\), \} *\n$");
        Assert.True(match.Success, header);
        int rows = int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture), columns = int.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture);
        var values = new float[rows * columns];
        Assert.Equal(10 + headerLength + values.Length * 4, bytes.Length);
        Buffer.BlockCopy(bytes, 10 + headerLength, values, 0, values.Length * 4);
        return (rows, columns, values);
    }

    private static float[] SafetensorsFeatures(string path)
    {
        using var reader = new SafetensorsReader(path);
        using var scope = TensorScope.Begin();
        return reader.ReadTensor("features").ToArray<float>();
    }

    [Fact]
    public void FilesFoldersAndListsGiveOneRowPerImageInOrderAndTheSkippedFilesWithTheirReason()
    {
        using var dir = new TempFolder();
        SavedModel(dir.File("w.safetensors"));
        string photos = dir.File("photos");
        Directory.CreateDirectory(Path.Combine(photos, "b"));
        File.WriteAllBytes(Path.Combine(photos, "a.jpg"), JpegEncoder.Encode(TestImages.Smooth(20, 26, 3, 1), 20, 26, 3, 90));
        File.WriteAllBytes(Path.Combine(photos, "broken.jpg"), [0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 0x4A, 0x46]);
        File.WriteAllBytes(Path.Combine(photos, "huge.png"), HostileImages.PngClaiming(5000, 5000));
        File.WriteAllBytes(Path.Combine(photos, "noext"), JpegEncoder.Encode(TestImages.Smooth(31, 18, 3, 2), 31, 18, 3, 85));
        File.WriteAllText(Path.Combine(photos, "notes.txt"), "not an image\n");
        File.WriteAllBytes(Path.Combine(photos, "b", "z.png"), Png(23, 17, 2, 3));
        File.WriteAllBytes(dir.File("extra.png"), Png(19, 21, 0, 4)); // gray: taken as RGB
        File.WriteAllText(dir.File("list.txt"), "photos/a.jpg\n\nmissing.jpg\r\n");

        string[] Args(string output, params string[] more) =>
            Embed(dir.File("w.safetensors"), output, ["--images", photos, dir.File("extra.png"), dir.File("list.txt"), "--max-image-pixels", "1000000", .. more]);
        var result = CommandRunner.Run(Args(dir.File("y.npy")));
        Assert.True(result.Code == 0, result.Err);
        Assert.Contains("5 of 8 image files, 3 unreadable skipped", result.Out);
        Assert.Contains("1 other files in the folders ignored", result.Out);
        string[] rows = [Path.Combine(photos, "a.jpg"), Path.Combine(photos, "noext"), Path.Combine(photos, "b", "z.png"), dir.File("extra.png"), Path.Combine(photos, "a.jpg")];
        Assert.Equal(["row\tfile", .. rows.Select((f, i) => $"{i}\t{f}")], File.ReadAllLines(dir.File("y.files.tsv")));
        var skipped = File.ReadAllLines(dir.File("y.skipped.tsv"));
        Assert.Equal(4, skipped.Length);
        Assert.Equal("file\treason", skipped[0]);
        Assert.StartsWith(Path.Combine(photos, "broken.jpg") + "\t", skipped[1]);
        Assert.StartsWith(Path.Combine(photos, "huge.png") + "\t", skipped[2]);
        Assert.Contains("over the limit of 1,000,000", skipped[2]);
        Assert.StartsWith(dir.File("missing.jpg") + "\t", skipped[3]); // relative to the list's folder
        Assert.Contains("No such file", skipped[3]);

        // Each row is the features of its file embedded alone.
        var (n, d, features) = ReadNpy(dir.File("y.npy"));
        Assert.Equal((5, 128), (n, d));
        Assert.Contains(features, v => v > 0);
        for (int r = 0; r < n; r++)
        {
            var alone = CommandRunner.Run(Embed(dir.File("w.safetensors"), dir.File("one.safetensors"), "--images", rows[r]));
            Assert.True(alone.Code == 0, alone.Err);
            ResNetTests.AssertClose(SafetensorsFeatures(dir.File("one.safetensors")), features[(r * d)..((r + 1) * d)], 1e-5);
        }

        // The same values as CSV (shortest round-trip text) and as safetensors.
        Assert.Equal(0, CommandRunner.Run(Args(dir.File("y.txt"), "--format", "csv")).Code);
        var csv = File.ReadAllLines(dir.File("y.txt")).Select(line => line.Split(',').Select(v => float.Parse(v, CultureInfo.InvariantCulture)).ToArray()).ToArray();
        Assert.Equal(n, csv.Length);
        Assert.Equal(features, csv.SelectMany(row => row).ToArray());
        Assert.Equal(0, CommandRunner.Run(Args(dir.File("y.safetensors"))).Code);
        Assert.Equal(features, SafetensorsFeatures(dir.File("y.safetensors")));

        var strict = CommandRunner.Run(Args(dir.File("s.npy"), "--strict"));
        CommandRunner.AssertUsageError(strict, Path.Combine(photos, "broken.jpg"));
        Assert.False(File.Exists(dir.File("s.npy")));
    }

    [Fact]
    public void AMissingPathAFifoAFolderWithoutImagesOrAnEmptyListIsOneLineAndExitCodeTwo()
    {
        using var dir = new TempFolder();
        SavedModel(dir.File("w.safetensors"));
        File.WriteAllBytes(dir.File("a.png"), Png(9, 8, 2, 5));
        Directory.CreateDirectory(dir.File("empty"));
        File.WriteAllText(Path.Combine(dir.File("empty"), "readme.md"), "no images here\n");
        File.WriteAllText(dir.File("blank.txt"), "\n\r\n\n");
        using (var mk = Process.Start("mkfifo", [dir.File("fifo")])) mk.WaitForExit();
        string output = dir.File("y.npy");
        string[] Args(params string[] more) => Embed(dir.File("w.safetensors"), output, more);

        CommandRunner.AssertUsageError(CommandRunner.Run(Args("--images", dir.File("nothing.jpg"))), $"--images '{dir.File("nothing.jpg")}': No such file or directory");
        CommandRunner.AssertUsageError(CommandRunner.Run(Args("--images", dir.File("fifo"))), "is a FIFO, not an image, a folder or a list of paths");
        CommandRunner.AssertUsageError(CommandRunner.Run(Args("--images", dir.File("empty"))), "holds no JPEG or PNG files (1 other files)");
        CommandRunner.AssertUsageError(CommandRunner.Run(Args("--images", dir.File("blank.txt"))), "names no files");
        CommandRunner.AssertUsageError(CommandRunner.Run(Args("--images", dir.File("a.png"), "--format", "xml")), "--format must be one of safetensors, npy, csv, got 'xml'");
        CommandRunner.AssertUsageError(CommandRunner.Run(Args("--images", dir.File("a.png"), "--input", dir.File("a.png"))), "--images takes the place of --input");
        CommandRunner.AssertUsageError(CommandRunner.Run(Args("--images", dir.File("a.png"), "--in-channels", "1")), "give --dataset with its data set");
        CommandRunner.AssertUsageError(CommandRunner.Run(Args("--images", dir.File("a.png"), "--batch-size", "2", "3")), "unexpected argument '3' (--batch-size takes one value");
        var unreadable = CommandRunner.Run(Args("--images", dir.File("a.png"), "--max-image-pixels", "10"));
        Assert.Equal(2, unreadable.Code);
        Assert.EndsWith("vicreg: embed: none of the 1 images could be read\n", unreadable.Err);
        Assert.False(File.Exists(output));
        Assert.Equal(0, CommandRunner.Run(Args("--images", dir.File("a.png"))).Code);
        Assert.Equal(1, ReadNpy(output).Rows);
    }

    [SkippableFact]
    [Trait("Reference", "PyTorch")]
    public void NumpyLoadsTheNpyFile()
    {
        PythonReference.SkipUnlessTorch();
        using var dir = new TempFolder();
        var rng = new Rng(53);
        foreach (var (rows, columns) in new[] { (1, 1), (3, 7), (2, 131) })
        {
            var values = Enumerable.Range(0, rows * columns).Select(_ => (float)rng.NextNormal() * 1e3f).ToArray();
            values[0] = float.Epsilon;
            string path = dir.File($"m{rows}x{columns}.npy");
            NpyWriter.Write(path, values, rows, columns);
            var loaded = PythonReference.Run(["-c",
                "import numpy, sys; a = numpy.load(sys.argv[1], allow_pickle=False); " +
                "print(a.dtype.str, a.shape, a.flags['C_CONTIGUOUS'], a.flags['F_CONTIGUOUS'] and a.ndim > 1 and min(a.shape) > 1); " +
                "print(' '.join(repr(float(v)) for v in a.ravel()))", path], throwOnError: true).StandardOutput.Split('\n');
            Assert.Equal($"<f4 ({rows}, {columns}) True False", loaded[0]);
            Assert.Equal(values, loaded[1].Split(' ').Select(v => (float)double.Parse(v, CultureInfo.InvariantCulture)).ToArray());
        }
    }

    /// <summary>Files decoded and transformed by us and by PIL + torchvision (Resize(256), bilinear as the official evaluate.py, + CenterCrop(224) +
    /// Normalize), then a torchvision ResNet-18 saved by torch.save: the same features. The images' shorter sides are at
    /// most 256, so the JPEG decoder does not down-scale (PIL decodes in full); one is resized down, the others up.</summary>
    [SkippableFact]
    [Trait("Reference", "PyTorch")]
    public void FeaturesOfJpegAndPngFilesEqualTorchvisionsThroughTheSameEvaluationTransform()
    {
        PythonReference.SkipUnlessTorch(needTorchvision: true);
        using var dir = new TempFolder();
        string images = dir.File("images");
        Directory.CreateDirectory(images);
        var files = new (string Name, byte[] Bytes)[]
        {
            ("1.jpg", JpegEncoder.Encode(TestImages.Smooth(240, 300, 3, 11), 240, 300, 3, 90)),
            ("2.png", Png(300, 280, 2, 12)),
            ("3.jpg", JpegEncoder.Encode(TestImages.Smooth(224, 224, 1, 13), 224, 224, 1, 92)),
            ("4.png", Png(256, 231, 6, 14)),
        };
        foreach (var (name, bytes) in files) File.WriteAllBytes(Path.Combine(images, name), bytes);
        PythonReference.RunScript("torchvision_embed_reference.py", ["resnet", "resnet18", "17", "224", dir.File("r.pth"), dir.File("expected.safetensors"),
            .. files.Select(f => Path.Combine(images, f.Name))]);

        var result = CommandRunner.Run("embed", "--arch", "resnet18", "--stem", "imagenet", "--weights", dir.File("r.pth"), "--images", images,
            "--output", dir.File("y.safetensors"), "--batch-size", "3", "--num-workers", "2", "--device", "cpu");
        Assert.True(result.Code == 0, result.Err);
        Assert.Contains("4 of 4 image files, 0 unreadable skipped", result.Out);
        ResNetTests.AssertClose(SafetensorsFeatures(dir.File("expected.safetensors")), SafetensorsFeatures(dir.File("y.safetensors")), 1e-4);
    }
}
