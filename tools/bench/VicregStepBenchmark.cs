using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Vicreg.Engine;
using Vicreg.Engine.Backends.Cpu;

namespace Vicreg.Bench;

/// <summary>
/// One full VICReg training step — ResNet-18 (cifar stem) on 32x32 RGB, batch 64 pairs, expander
/// 2048-2048-2048, forward of both views + hand-derived loss backward + network backward + LARS —
/// beside the same step in PyTorch (tools/reference/vicreg_step.py under Debian's /usr/bin/python3)
/// run in the same session, at 1 thread and at all threads. Prints pairs/s and the ratio.
/// </summary>
public sealed class VicregStepBenchmark : IBenchmark
{
    public string Name => "vicreg";
    public string Description => "one VICReg training step (ResNet-18 cifar, 32x32, batch 64, mlp 2048-2048-2048) vs PyTorch";

    private const int Batch = 64;
    private const string Mlp = "2048-2048-2048";

    public void Run(BenchOptions options)
    {
        int steps = options.Quick ? 2 : 5;
        int[] threadCounts = [1, Environment.ProcessorCount];
        var torch = PyTorchSteps(threadCounts, steps);
        Console.WriteLine($"{"threads",7} | {"ours pairs/s",12} {"torch pairs/s",13} {"ratio",6} | {"ours ms",8} {"torch ms",8} | memory in steady steps");
        int saved = CpuParallel.ThreadCount;
        try
        {
            foreach (int threads in threadCounts)
            {
                CpuParallel.ThreadCount = threads;
                var (seconds, systemAllocations, gcBytes) = OurStep(steps);
                double ours = Batch / seconds;
                string theirs = torch.TryGetValue(threads, out var t) ? $"{Batch / t,13:F2} {ours * t / Batch,6:F2}" : $"{"n/a",13} {"",6}";
                string theirMs = torch.TryGetValue(threads, out var t2) ? $"{t2 * 1000,8:F0}" : $"{"n/a",8}";
                Console.WriteLine($"{threads,7} | {ours,12:F2} {theirs} | {seconds * 1000,8:F0} {theirMs} | {systemAllocations} new native buffers, {gcBytes / 1024.0:F0} KiB GC objects per step");
            }
        }
        finally
        {
            CpuParallel.ThreadCount = saved;
        }
    }

    /// <summary>Median seconds per step of our engine, how many buffers the allocator took from the
    /// system during the timed (steady) steps (0 when the cache serves everything), and the GC bytes a step allocates
    /// (tape nodes and tensor headers: small objects, no arrays).</summary>
    private static (double Seconds, long SystemAllocations, long GcBytesPerStep) OurStep(int steps)
    {
        var fixture = new VicregStepFixture(1.0, 3, 32, Batch, Mlp);
        void Step() => fixture.Step();
        Step();
        Step();
        long before = CpuBackend.Instance.MemoryStatistics.SystemAllocations;
        long gcBefore = GC.GetAllocatedBytesForCurrentThread();
        var times = new double[steps];
        var sw = new Stopwatch();
        for (int i = 0; i < steps; i++)
        {
            sw.Restart();
            Step();
            times[i] = sw.Elapsed.TotalSeconds;
        }
        long after = CpuBackend.Instance.MemoryStatistics.SystemAllocations;
        long gcPerStep = (GC.GetAllocatedBytesForCurrentThread() - gcBefore) / steps;
        Array.Sort(times);
        return (times[steps / 2], after - before, gcPerStep);
    }

    /// <summary>Median seconds per step of PyTorch at each thread count (empty when torch is unavailable).</summary>
    private static Dictionary<int, double> PyTorchSteps(int[] threadCounts, int steps)
    {
        var result = new Dictionary<int, double>();
        string script = Path.Combine(RepositoryRoot(), "tools", "reference", "vicreg_step.py");
        var start = new ProcessStartInfo("/usr/bin/python3")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        start.ArgumentList.Add(script);
        start.ArgumentList.Add("--threads");
        start.ArgumentList.Add(string.Join(',', threadCounts));
        start.ArgumentList.Add("--steps");
        start.ArgumentList.Add(steps.ToString(CultureInfo.InvariantCulture));
        try
        {
            using var p = Process.Start(start)!;
            string stdout = p.StandardOutput.ReadToEnd();
            string stderr = p.StandardError.ReadToEnd();
            p.WaitForExit();
            foreach (var line in stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                using var doc = JsonDocument.Parse(line);
                result[doc.RootElement.GetProperty("threads").GetInt32()] = doc.RootElement.GetProperty("step_ms").GetDouble() / 1000;
            }
            if (result.Count == 0) Console.WriteLine($"# PyTorch anchor failed: {stderr.Trim().Split('\n').LastOrDefault()}");
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or JsonException)
        {
            Console.WriteLine($"# PyTorch anchor unavailable: {e.Message}");
        }
        return result;
    }

    private static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Vicreg.sln"))) dir = dir.Parent;
        return dir?.FullName ?? Directory.GetCurrentDirectory();
    }
}
