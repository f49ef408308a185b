using Vicreg.Engine.Data.Datasets;
using Vicreg.Tests.Engine.IO;

namespace Vicreg.Tests.App.Commands;

/// <summary>A stopped run exits as the shell expects of a program ended by a signal: 128 + its number.</summary>
public class SignalTests
{
    [SkippableFact]
    public void SigtermStopsPretrainingWithACheckpointAndExitCode143()
    {
        Skip.IfNot(Directory.Exists(IdxDataset.DefaultFashionMnistPath()),
            $"skipped: Fashion-MNIST not installed at {IdxDataset.DefaultFashionMnistPath()} (tools/install-deps.sh installs it)");
        using var dir = new TempFolder();
        string exp = dir.File("exp");
        using var run = new ProgramProcess("pretrain", "--exp-dir", exp, "--width", "0.0625", "--mlp", "16-16", "--limit", "64",
            "--batch-size", "8", "--epochs", "1000", "--device", "cpu", "--num-workers", "1");
        Assert.True(run.WaitForOutput("pretrain: ", TimeSpan.FromMinutes(2)), "the run did not start: " + run.Output);
        run.Signal("TERM");
        var (code, err) = run.WaitForExit(TimeSpan.FromMinutes(2));
        Assert.True(code == 143, $"exit code {code}, expected 143 (128 + SIGTERM); stderr: {err}");
        Assert.Contains("stopped at step", run.Output);
        Assert.True(File.Exists(Path.Combine(exp, "checkpoint.safetensors")));
    }
}
