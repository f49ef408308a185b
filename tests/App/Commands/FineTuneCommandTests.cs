using System.Text.Json;
using Vicreg.Engine.Data.Datasets;
using Vicreg.Tests.Engine.IO;

namespace Vicreg.Tests.App.Commands;

/// <summary>Tiny `vicreg finetune` runs on the first images of Fashion-MNIST: the label subset is balanced and
/// written, a run is deterministic and reproduced from its list, an interrupted run resumes to the uninterrupted
/// result, and mistakes are one line.</summary>
public class FineTuneCommandTests
{
    private static void RequireFashionMnist() =>
        Skip.IfNot(Directory.Exists(IdxDataset.DefaultFashionMnistPath()),
            $"skipped: Fashion-MNIST not installed at {IdxDataset.DefaultFashionMnistPath()} (tools/install-deps.sh installs it)");

    /// <summary>10% of the first 300 images (about 30, 3 per class), batch 8 (4 steps an epoch), 2 epochs, 40 test images.</summary>
    private static string[] Tiny(string expDir, params string[] extra) =>
        ["finetune", "--weights", "random", "--width", "0.0625", "--limit", "300", "--limit-test", "40", "--epochs", "2",
         "--batch-size", "8", "--num-workers", "1", "--device", "cpu", "--seed", "5", "--exp-dir", expDir, .. extra];

    private static JsonElement Result(string expDir)
    {
        var lines = File.ReadAllLines(Path.Combine(expDir, "finetune.txt"));
        return JsonDocument.Parse(lines[^1]).RootElement.Clone();
    }

    /// <summary>The per-epoch lines of stats.txt without their wall-clock time.</summary>
    private static string[] EpochLines(string expDir) =>
        File.ReadAllLines(Path.Combine(expDir, "stats.txt")).Where(l => l.StartsWith('{'))
            .Select(l => System.Text.RegularExpressions.Regex.Replace(l, "\"time\":[0-9.]+", "")).ToArray();

    [SkippableFact]
    public void ARunWritesABalancedSubsetReportsBestAndLastAndIsDeterministic()
    {
        RequireFashionMnist();
        using var a = new TempFolder();
        using var b = new TempFolder();
        var first = CommandRunner.Run(Tiny(a.Path, "--train-perc", "10"));
        Assert.True(first.Code == 0, first.Err);
        Assert.Contains("last (epoch 2/2)", first.Out);
        Assert.Contains("chosen on the test split", first.Out);
        var list = File.ReadAllLines(a.File("train_files.txt")).Where(l => !l.StartsWith('#')).ToArray();
        var perClass = list.GroupBy(l => l.Split('\t')[1]).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(10, perClass.Count);
        var train = IdxDataset.LoadFashionMnist(null, train: true);
        foreach (var (label, count) in perClass)
        {
            int available = Enumerable.Range(0, 300).Count(i => train.Label(i).ToString() == label);
            Assert.Equal(Math.Max(1, (int)Math.Round(available * 0.1, MidpointRounding.AwayFromZero)), count);
        }
        Assert.Equal(2, EpochLines(a.Path).Length);
        var r = Result(a.Path);
        Assert.InRange(r.GetProperty("last_top1").GetDouble(), 0, 100);
        Assert.True(r.GetProperty("best_top1").GetDouble() >= r.GetProperty("last_top1").GetDouble());

        // The list reused: the same images, hence the same run, to the last bit.
        var second = CommandRunner.Run(Tiny(b.Path, "--train-files", a.File("train_files.txt")));
        Assert.True(second.Code == 0, second.Err);
        Assert.Equal(EpochLines(a.Path), EpochLines(b.Path));
        Assert.Equal(r.GetProperty("best_top1").GetDouble(), Result(b.Path).GetProperty("best_top1").GetDouble());
    }

    [SkippableFact]
    public void AnInterruptedRunResumesToTheUninterruptedResult()
    {
        RequireFashionMnist();
        using var whole = new TempFolder();
        using var parts = new TempFolder();
        var uninterrupted = CommandRunner.Run(Tiny(whole.Path, "--train-perc", "10"));
        Assert.True(uninterrupted.Code == 0, uninterrupted.Err);
        // Stop in the middle of the second epoch (step 6 of 8), then run the same command again.
        var stopped = CommandRunner.Run(Tiny(parts.Path, "--train-perc", "10", "--max-steps", "6"));
        Assert.True(stopped.Code == 0, stopped.Err);
        Assert.False(File.Exists(parts.File("finetune.txt")));
        var resumed = CommandRunner.Run(Tiny(parts.Path, "--train-perc", "10"));
        Assert.True(resumed.Code == 0, resumed.Err);
        Assert.Contains("resuming from", resumed.Out);
        Assert.Equal(EpochLines(whole.Path), EpochLines(parts.Path));
        foreach (var key in new[] { "last_top1", "last_top5", "best_top1", "best_epoch" })
            Assert.Equal(Result(whole.Path).GetProperty(key).GetDouble(), Result(parts.Path).GetProperty(key).GetDouble());
    }

    [SkippableTheory]
    [InlineData("--train-perc", "5", "--train-perc must be 1, 10 or 100")]
    [InlineData("--weights", "pixels", "no backbone to fine-tune")]
    [InlineData("--lr-head", "-1", "--lr-head must be at least 0")]
    [InlineData("--lr-backbone", "fast", "--lr-backbone wants a number")]
    [InlineData("--train-files", "/nonexistent/list.txt", "--train-files: /nonexistent/list.txt not found")]
    public void AMistakeIsOneLine(string flag, string value, string expected)
    {
        RequireFashionMnist();
        using var dir = new TempFolder();
        var args = Tiny(dir.Path).ToList();
        int at = args.IndexOf(flag);
        if (at >= 0) args[at + 1] = value;
        else args.AddRange([flag, value]);
        CommandRunner.AssertUsageError(CommandRunner.Run(args.ToArray()), expected);
    }

    [SkippableFact]
    public void BothASubsetPercentageAndAListIsOneLine()
    {
        RequireFashionMnist();
        using var dir = new TempFolder();
        File.WriteAllText(dir.File("list.txt"), "0\t9\n");
        CommandRunner.AssertUsageError(CommandRunner.Run(Tiny(dir.Path, "--train-perc", "1", "--train-files", dir.File("list.txt"))), "not both");
    }

    [Fact]
    public void HelpExplainsTheProtocolAndTheBestEpoch()
    {
        var r = CommandRunner.Run("finetune", "--help");
        Assert.Equal(0, r.Code);
        foreach (var s in new[] { "--train-perc", "--train-files", "--lr-backbone", "--lr-head", "--wd", "evaluate.py --weights finetune", "optimistic", "resumes" })
            Assert.Contains(s, r.Out);
    }
}
