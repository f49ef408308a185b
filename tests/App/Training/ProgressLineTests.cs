using Vicreg.Engine.Data.Datasets;
using Vicreg.Tests.App.Commands;
using Vicreg.Tests.Engine.IO;
using Vicreg.Training;

namespace Vicreg.Tests.App.Training;

/// <summary>The progress line's total and rate are the run's own: its end (a --max-steps cap included), its
/// recent speed over a real interval, never a figure from a near-zero one.</summary>
public class ProgressLineTests
{
    private sealed class FakeClock
    {
        public TimeSpan Now;
        public TimeSpan Read() => Now;
    }

    private static (ProgressLine Line, FakeClock Clock, StringWriter Output) Plain(long total, long start = 0)
    {
        var clock = new FakeClock();
        var output = new StringWriter();
        return (new ProgressLine("work", total, "images", start, clock.Read, interactive: false, output), clock, output);
    }

    private static string LastLine(StringWriter output) => output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1];

    [Fact]
    public void NoRateFromANearZeroInterval()
    {
        var (line, clock, output) = Plain(10_000);
        clock.Now = TimeSpan.FromMilliseconds(10); // a prefetched batch of 256 arrives at once
        line.Report(256, "");
        Assert.Contains("256/10000", LastLine(output));
        Assert.Contains("| - images/s", LastLine(output));
        clock.Now = TimeSpan.FromSeconds(2.56);
        line.Report(10_000, "", force: true);
        Assert.Contains("| 3906.25 images/s, 0s left", LastLine(output)); // 10000 images over 2.56 s from the start at 0
    }

    [Fact]
    public void TheRateIsTheRecentOneAndTheTimeLeftFollowsIt()
    {
        // 10 images/s for the first 60 s, then 100 images/s: after 30 s at the new speed the line says 100, not the run's average.
        var (line, clock, output) = Plain(20_000);
        long position = 0;
        for (int second = 1; second <= 90; second++)
        {
            position += second <= 60 ? 10 : 100;
            clock.Now = TimeSpan.FromSeconds(second);
            line.Report(position, "", force: true);
        }
        Assert.Contains($"{position}/20000", LastLine(output));
        Assert.Contains("| 100.00 images/s, 2m44s left", LastLine(output)); // (20000 - 3600) / 100 = 164 s
    }

    [Fact]
    public void AResumedRunCountsFromWhereItStarted()
    {
        var (line, clock, output) = Plain(1600, start: 1000);
        clock.Now = TimeSpan.FromSeconds(4);
        line.Report(1002, "", force: true);
        Assert.Contains("1002/1600", LastLine(output));
        Assert.Contains("| 0.50 images/s, 19m56s left", LastLine(output)); // 2 steps in 4 s; 598 to go
    }

    [SkippableFact]
    public void APretrainingRunCappedByMaxStepsCountsToTheCap()
    {
        Skip.IfNot(Directory.Exists(IdxDataset.DefaultFashionMnistPath()),
            $"skipped: Fashion-MNIST not installed at {IdxDataset.DefaultFashionMnistPath()} (tools/install-deps.sh installs it)");
        using var dir = new TempFolder();
        var result = CommandRunner.Run("pretrain", "--exp-dir", dir.File("exp"), "--width", "0.0625", "--mlp", "16-16", "--limit", "64",
            "--batch-size", "8", "--epochs", "100", "--max-steps", "2", "--device", "cpu", "--num-workers", "1");
        Assert.True(result.Code == 0, result.Err);
        Assert.Contains("2/2 loss", result.Err);
        Assert.DoesNotContain("/800", result.Err); // 100 epochs x 8 steps: not what this run does
    }
}
