using Vicreg.Engine.Data.Transforms;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Vicreg.Engine.Inference;
using Vicreg.Engine;
using Vicreg.Engine.Backends.Cpu;
using Vicreg.Engine.Data;
using Vicreg.Engine.Data.Datasets;
using Vicreg.Engine.Models;

namespace Vicreg.Bench;

/// <summary>
/// `embed` section: what `vicreg embed --images` does, in images/s: JPEG decode + the evaluation transform
/// (Resize(256) + CenterCrop(224), bicubic, ImageNet normalization) + a ResNet-18 forward (imagenet stem, eval
/// mode, no grad), over generated photographs of ImageNet-like sizes; beside torchvision doing the same
/// (tools/reference/torchvision_embed_reference.py throughput: PIL, DataLoader, torchvision's resnet18) on the
/// same files with the same threads (one loader worker per core, the forward on every core). Each side embeds
/// one batch to warm up, then the whole set timed, the best of the repeats. Our JPEG decoder may down-scale by
/// DCT when the image is at least 8/7 of the resize (as in every run of ours); PIL decodes in full.
/// </summary>
public sealed class EmbedBenchmark : IBenchmark
{
    private const int Batch = 32;
    private const int Size = 224;

    public string Name => "embed";
    public string Description => "embed --images: JPEG decode + evaluation transform + ResNet-18 forward (images/s) vs torchvision";

    public void Run(BenchOptions options)
    {
        int images = options.Quick ? 64 : 256;
        int threads = Environment.ProcessorCount;
        int repeats = options.Quick ? 1 : Math.Min(options.Repeats, 3);
        string root = Path.Combine(Path.GetTempPath(), $"vicreg-bench-images-{images}");
        ImagePipelineBenchmark.GenerateImages(root, images);
        var files = ImageFileList.Collect([root]).Files;
        Console.WriteLine($"embed: {files.Count} JPEGs (ImageNet-like sizes) in {root}; resnet18, {Size}x{Size}, batch {Batch}, {threads} thread(s) and worker(s), best of {repeats}");

        double ours = MeasureOurs(files, threads, repeats);
        Console.WriteLine($"embed: vicreg                 {ours,8:F1} images/s");
        double? torch = MeasureTorchvision(files, threads, repeats);
        if (torch is null) return;
        Console.WriteLine($"embed: torchvision (PIL)      {torch,8:F1} images/s");
        Console.WriteLine($"embed: ratio vicreg / torchvision = {ours / torch:F2}x");
    }

    private static double MeasureOurs(IReadOnlyList<byte[]> files, int threads, int repeats)
    {
        var rng = new Rng(5);
        var model = Backbones.Create("resnet18", ResNetStem.Imagenet, 1, 3, ref rng);
        model.Eval();
        var transform = EvaluationTransforms.Photographs(Size);
        var backend = CpuBackend.Instance;
        FeatureExtractor.Extract(model, new ImageFilesDataset(files.Take(Batch).ToList()), transform, backend, Batch, threads);
        double best = 0;
        for (int r = 0; r < repeats; r++)
        {
            var clock = Stopwatch.StartNew();
            var features = FeatureExtractor.Extract(model, new ImageFilesDataset(files), transform, backend, Batch, threads);
            best = Math.Max(best, features.Count / clock.Elapsed.TotalSeconds);
        }
        return best;
    }

    private static double? MeasureTorchvision(IReadOnlyList<byte[]> files, int threads, int repeats)
    {
        string? script = FindScript("torchvision_embed_reference.py");
        if (script is null || !File.Exists("/usr/bin/python3"))
        {
            Console.WriteLine("embed: torchvision anchor skipped (tools/reference/torchvision_embed_reference.py or /usr/bin/python3 not found)");
            return null;
        }
        string list = Path.GetTempFileName();
        try
        {
            File.WriteAllLines(list, files.Select(f => PathText.Display(f)));
            string Text(int v) => v.ToString(CultureInfo.InvariantCulture);
            var psi = new ProcessStartInfo("/usr/bin/python3", [script, "throughput", list, Text(threads), Text(Batch), Text(Size), Text(repeats)])
            { RedirectStandardOutput = true, RedirectStandardError = true };
            using var p = Process.Start(psi)!;
            var stderr = p.StandardError.ReadToEndAsync();
            string stdout = p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            string? line = stdout.Split('\n').LastOrDefault(l => l.TrimStart().StartsWith('{'));
            if (p.ExitCode != 0 || line is null)
            {
                Console.WriteLine($"embed: torchvision anchor failed: {stderr.Result.Trim().Split('\n').LastOrDefault()}");
                return null;
            }
            using var doc = JsonDocument.Parse(line);
            return doc.RootElement.GetProperty("images_per_second").GetDouble();
        }
        finally
        {
            File.Delete(list);
        }
    }

    private static string? FindScript(string name)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "tools", "reference", name);
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }
}
