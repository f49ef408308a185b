using System.Diagnostics;
using Vicreg.Engine.Data.Datasets;
using Vicreg.Engine.IO;
using Vicreg.Tests.Engine.IO;
using Vicreg.Training;

namespace Vicreg.Tests.App.Training;

/// <summary>The --exp-dir lock against a real second process: held while a `vicreg pretrain` runs, refused
/// to this process meanwhile, and free again once that process is killed with SIGKILL (no clean-up ran).</summary>
public class ExperimentFolderTests
{
    private static Process StartPretrain(string expDir)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var arg in new[]
        {
            Path.Combine(AppContext.BaseDirectory, "vicreg.dll"), "pretrain", "--exp-dir", expDir, "--width", "0.0625", "--mlp", "16-16",
            "--limit", "4800", "--batch-size", "24", "--epochs", "50", "--device", "cpu", "--num-workers", "1",
        }) start.ArgumentList.Add(arg);
        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    [SkippableFact]
    public void AKilledHoldersLockDoesNotBlockAndItsTemporariesAreRemoved()
    {
        Skip.IfNot(Directory.Exists(IdxDataset.DefaultFashionMnistPath()), "skipped: Fashion-MNIST not installed");
        using var dir = new TempFolder();
        string expDir = dir.File("exp");
        using var holder = StartPretrain(expDir);
        try
        {
            // Wait until the other process holds the folder: our own open is then refused.
            var clock = Stopwatch.StartNew();
            ExperimentFolderInUseException? refused = null;
            while (refused is null && clock.Elapsed < TimeSpan.FromSeconds(90) && !holder.HasExited)
            {
                try
                {
                    ExperimentFolder.Open(expDir, _ => { }).Dispose();
                    Thread.Sleep(100);
                }
                catch (ExperimentFolderInUseException e)
                {
                    refused = e;
                }
            }
            Assert.False(holder.HasExited, $"the holder ended early with exit code {(holder.HasExited ? holder.ExitCode : 0)}");
            Assert.NotNull(refused);
            Assert.Contains(expDir, refused!.Message);

            // What kill -9 in the middle of a save leaves: a temporary named after the dead process.
            string temporary = SafetensorsWriter.TemporaryName(Checkpoint.FileName, holder.Id, Guid.NewGuid());
            File.WriteAllText(Path.Combine(expDir, temporary), "partial");
            holder.Kill(); // SIGKILL on Unix
            holder.WaitForExit();

            var said = new List<string>();
            using (ExperimentFolder.Open(expDir, said.Add)) { }
            Assert.False(File.Exists(Path.Combine(expDir, temporary)));
            Assert.Single(said);
            Assert.Contains(temporary, said[0]);
        }
        finally
        {
            if (!holder.HasExited) holder.Kill();
        }
    }
}
