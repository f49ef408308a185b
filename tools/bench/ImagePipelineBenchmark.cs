using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Vicreg.Augment;
using Vicreg.Datasets;
using Vicreg.Engine.Data.Datasets;
using Vicreg.Engine.Data.Decoding;
using Vicreg.Engine.Data;
using Vicreg.Engine;

namespace Vicreg.Bench;

/// <summary>
/// `images` benchmark: JPEG decode + the official VICReg two-view augmentation, in images/s, on
/// generated photographs of ImageNet-like sizes (4:2:0, quality 90), our DataLoader beside
/// torchvision's (tools/reference/torchvision_pipeline.py: ImageFolder + PIL + DataLoader) in the same
/// run, both with one worker per core. The first epoch warms up and is not timed.
/// Flags: --images N (500) --workers W (cores) --batch-size B (50) --epochs E (3) --size S (224)
/// --no-anchor (skip PyTorch) --no-dct-scaling (decode at full size, as PIL does).
/// </summary>
public static class ImagePipelineBenchmark
{
    public static int Run(string[] args)
    {
        int images = IntFlag(args, "--images", 500);
        int workers = IntFlag(args, "--workers", Environment.ProcessorCount);
        int batch = IntFlag(args, "--batch-size", 50);
        int epochs = Math.Max(2, IntFlag(args, "--epochs", 3));
        int size = IntFlag(args, "--size", 224);
        bool anchor = !args.Contains("--no-anchor");
        bool dct = !args.Contains("--no-dct-scaling");

        string root = Path.Combine(Path.GetTempPath(), $"vicreg-bench-images-{images}");
        GenerateImages(root, images);
        Console.WriteLine($"images: {images} JPEGs (ImageNet-like sizes) in {root}; {workers} worker(s), batch {batch}, {epochs - 1} timed epoch(s), {size}x{size} two views{(dct ? "" : ", no DCT scaling")}");

        MeasureSmallImages(workers);
        double ours = MeasureOurs(root, workers, batch, epochs, size, dct);
        Console.WriteLine($"images: vicreg decode+2-view augmentation  {ours,8:F1} images/s  ({ours / workers:F1} per worker)");
        if (!anchor) return 0;
        double? torch = MeasureTorchvision(root, workers, batch, epochs, size);
        if (torch is null) return 0;
        Console.WriteLine($"images: torchvision (PIL) same pipeline     {torch,8:F1} images/s  ({torch / workers:F1} per worker)");
        Console.WriteLine($"images: ratio vicreg / torchvision = {ours / torch:F2}x (target >= 1.5x)");
        return 0;
    }

    private static int IntFlag(string[] args, string name, int fallback)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
    }

    /// <summary>ImageFolder layout, 10 classes; sizes around 500x375 (landscape and portrait), content
    /// smooth fields with texture so the entropy coder has real work.</summary>
    internal static void GenerateImages(string root, int count)
    {
        string marker = Path.Combine(root, ".complete");
        if (File.Exists(marker)) return;
        if (Directory.Exists(root)) Directory.Delete(root, true);
        var rng = new Rng(2022);
        for (int i = 0; i < count; i++)
        {
            string dir = Path.Combine(root, $"class{i % 10:D2}");
            Directory.CreateDirectory(dir);
            bool portrait = rng.Bernoulli(0.25);
            int w = 400 + rng.NextInt(101), h = 300 + rng.NextInt(101);
            if (portrait) (w, h) = (h, w);
            var px = new byte[w * h * 3];
            double fx = rng.Uniform(2, 9), fy = rng.Uniform(2, 9), ph = rng.Uniform(0, 6);
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                    for (int c = 0; c < 3; c++)
                    {
                        double v = 128 + 70 * Math.Sin(fx * x / w * (c + 1) + ph) * Math.Cos(fy * y / h + c) + rng.Uniform(-25, 25);
                        px[(y * w + x) * 3 + c] = (byte)Math.Clamp((int)v, 0, 255);
                    }
            File.WriteAllBytes(Path.Combine(dir, $"img{i:D5}.JPEG"), JpegEncoder.Encode(px, w, h, 3, quality: 90, subsample420: true));
        }
        File.WriteAllText(marker, "ok");
    }

    private static double MeasureOurs(string root, int workers, int batch, int epochs, int size, bool dct)
    {
        var ds = new ImageFolderDataset(root);
        var views = VicregAugmentations.ImageNetTwoViews(size, allowDecodeScaling: dct);
        using var loader = new DataLoader(ds, views, new DataLoaderOptions { BatchSize = batch, NumWorkers = workers, DropLast = false, Seed = 1 });
        long n = 0;
        double seconds = 0;
        for (int e = 0; e < epochs; e++)
        {
            var sw = Stopwatch.StartNew();
            int count = 0;
            foreach (var b in loader.Epoch(e)) count += b.Count;
            if (e > 0) { n += count; seconds += sw.Elapsed.TotalSeconds; }
        }
        return n / seconds;
    }

    /// <summary>The default run's data path: Fashion-MNIST two views (28x28 gray), for scale (no anchor).</summary>
    private static void MeasureSmallImages(int workers)
    {
        if (!File.Exists(Path.Combine(IdxDataset.DefaultFashionMnistPath(), "t10k-images-idx3-ubyte.gz"))) return;
        var ds = IdxDataset.LoadFashionMnist(train: false);
        var views = VicregAugmentations.SmallImageTwoViews(28, DatasetNormalization.FashionMnist);
        using var loader = new DataLoader(ds, views, new DataLoaderOptions { BatchSize = 256, NumWorkers = workers, Seed = 1 });
        foreach (var _ in loader.Epoch(0)) { }
        var sw = Stopwatch.StartNew();
        int n = 0;
        foreach (var b in loader.Epoch(1)) n += b.Count;
        Console.WriteLine($"images: vicreg Fashion-MNIST 28x28 two views {n / sw.Elapsed.TotalSeconds,8:F0} images/s ({workers} worker(s), no anchor)");
    }

    private static double? MeasureTorchvision(string root, int workers, int batch, int epochs, int size)
    {
        string? script = FindScript();
        if (script is null || !File.Exists("/usr/bin/python3"))
        {
            Console.WriteLine("images: torchvision anchor skipped (tools/reference/torchvision_pipeline.py or /usr/bin/python3 not found)");
            return null;
        }
        var psi = new ProcessStartInfo("/usr/bin/python3", [script, root, "--workers", workers.ToString(CultureInfo.InvariantCulture),
            "--batch-size", batch.ToString(CultureInfo.InvariantCulture), "--epochs", epochs.ToString(CultureInfo.InvariantCulture),
            "--size", size.ToString(CultureInfo.InvariantCulture)])
        { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        string stdout = p.StandardOutput.ReadToEnd();
        string stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        string? line = stdout.Split('\n').LastOrDefault(l => l.TrimStart().StartsWith('{'));
        if (p.ExitCode != 0 || line is null)
        {
            Console.WriteLine($"images: torchvision anchor failed: {stderr.Trim().Split('\n').LastOrDefault()}");
            return null;
        }
        using var doc = JsonDocument.Parse(line);
        return doc.RootElement.GetProperty("images_per_second").GetDouble();
    }

    private static string? FindScript()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null)
        {
            string candidate = Path.Combine(dir.FullName, "tools", "reference", "torchvision_pipeline.py");
            if (File.Exists(candidate)) return candidate;
            dir = dir.Parent;
        }
        return null;
    }
}
