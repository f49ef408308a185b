using System.Diagnostics;
using Vicreg.Engine;
using Vicreg.Engine.Data.Decoding;
using Vicreg.Engine.Inference;
using Vicreg.Engine.IO;
using Vicreg.Engine.Models;
using Vicreg.Tests.Engine.Data;
using Vicreg.Tests.Engine.IO;

namespace Vicreg.Tests.Tools;

/// <summary>
/// The engine as a package: tools/pack.sh packs Vicreg.Engine and its dependencies into a temporary folder, and
/// examples/EmbedImages, copied out of the repository as an application of its own, restores them from there (beside
/// the machine's configured sources, with a package cache of its own so that no earlier pack is taken instead), builds
/// against them and embeds a generated folder with a tiny backbone: the lines it prints are this process's embeddings.
/// An API the example uses and the package lacks fails the build, and so this test.
/// </summary>
public class LibraryPackageTests
{
    private static (int Code, string Out, string Err) Run(string program, params string[] args)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) start.ArgumentList.Add(a);
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        string stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout.Result, stderr);
    }

    [Fact]
    public void TheExampleBuildsAgainstThePackageAndEmbedsAFolderOfImages()
    {
        using var dir = new TempFolder();
        string root = PythonReference.RepositoryRoot, packages = dir.File("packages"), app = dir.File("app");
        var pack = Run("bash", Path.Combine(root, "tools", "pack.sh"), packages);
        Assert.True(pack.Code == 0, pack.Out + pack.Err);
        foreach (var id in new[] { "Vicreg.Engine", "Vicreg.Engine.Core", "Vicreg.Engine.Backends.Cpu", "Vicreg.Engine.Data", "Vicreg.Engine.Models" })
            Assert.True(File.Exists(Path.Combine(packages, $"{id}.0.1.0.nupkg")), $"{id} was not packed: {pack.Out}");

        Directory.CreateDirectory(app);
        foreach (var file in new[] { "EmbedImages.csproj", "Program.cs" })
            File.Copy(Path.Combine(root, "examples", "EmbedImages", file), Path.Combine(app, file));
        File.WriteAllText(Path.Combine(app, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <config><add key="globalPackagesFolder" value="{dir.File("package-cache")}" /></config>
              <packageSources><add key="vicreg-packages" value="{packages}" /></packageSources>
            </configuration>
            """);
        string output = dir.File("out");
        var build = Run("dotnet", "build", app, "-c", "Release", "-o", output, "--nologo", "-v", "quiet", "-nodeReuse:false");
        Assert.True(build.Code == 0, build.Out + build.Err);

        var spec = new BackboneSpec("resnet18", ResNetStem.Cifar, 0.125, 3);
        var rng = new Rng(61);
        StateDictFile.Save(Backbones.Create(spec.Arch, spec.Stem, spec.Width, spec.InChannels, ref rng), dir.File("w.safetensors"));
        string photos = dir.File("photos");
        Directory.CreateDirectory(photos);
        File.WriteAllBytes(Path.Combine(photos, "a.jpg"), JpegEncoder.Encode(TestImages.Smooth(40, 30, 3, 1), 40, 30, 3, 90));
        File.WriteAllBytes(Path.Combine(photos, "b.png"), TestPngWriter.Encode(TestImages.Smooth(23, 29, 3, 2).Select(b => (int)b).ToArray(), 23, 29, 8, 2));
        File.WriteAllBytes(Path.Combine(photos, "c.jpg"), [0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10]);

        var run = Run("dotnet", Path.Combine(output, "EmbedImages.dll"), dir.File("w.safetensors"), photos, "resnet18", "cifar", "0.125");
        Assert.True(run.Code == 0, run.Out + run.Err);
        using var embedder = Embedder.Load(dir.File("w.safetensors"), spec);
        var expected = embedder.EmbedImages([photos]);
        Assert.Equal(2, expected.Count);
        var lines = run.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(embedder.LoadReport, lines[0]);
        for (int i = 0; i < expected.Count; i++)
        {
            var first = expected.Rows[i].Take(4).Select(v => v.ToString("F4", System.Globalization.CultureInfo.InvariantCulture));
            Assert.Equal($"{expected.Files[i]}\t[{string.Join(", ", first)}, ...] ({embedder.RepresentationSize} features)", lines[1 + i]);
        }
        Assert.StartsWith($"{Path.Combine(photos, "c.jpg")}\tskipped: ", lines[3]);
        Assert.Equal(4, lines.Length);

        var wrong = Run("dotnet", Path.Combine(output, "EmbedImages.dll"), dir.File("w.safetensors"), photos, "resnet34", "cifar", "0.125");
        Assert.Equal(2, wrong.Code);
        Assert.StartsWith("EmbedImages: weights ", wrong.Err);
        Assert.Contains("do not fit the model", wrong.Err);
        Assert.Single(wrong.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }
}
