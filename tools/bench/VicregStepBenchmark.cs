using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Vicreg.Engine;
using Vicreg.Engine.Backends.Cpu;
using Vicreg.Engine.Backends.Cpu.Gemm;
using Vicreg.Engine.Models;

namespace Vicreg.Bench;

/// <summary>A VICReg training step configuration to time against PyTorch.</summary>
public sealed record StepCase(string Name, string Description, string Arch, ResNetStem Stem, double Width, int Channels, int Size,
    int Batch, string Mlp, int Steps, int QuickSteps, bool InAll = true);

/// <summary>
/// One full VICReg training step — forward of both views + hand-derived loss backward + network backward +
/// LARS — beside the same step in PyTorch (tools/reference/vicreg_step.py under Debian's /usr/bin/python3)
/// run in the same session, at 1 thread and at all threads. Prints pairs/s and the ratio, the step's nominal
/// GFLOP/s against the measured FMA peak (<see cref="FmaPeak"/>), and both processes' peak resident memory.
/// </summary>
public sealed class VicregStepBenchmark(StepCase config) : IBenchmark
{
    /// <summary>The benchmark step: ResNet-18 (cifar stem), 32x32 RGB, batch 64 pairs, mlp 2048-2048-2048.</summary>
    public static readonly StepCase Cifar = new("vicreg", "one VICReg training step (ResNet-18 cifar, 32x32, batch 64, mlp 2048-2048-2048) vs PyTorch",
        "resnet18", ResNetStem.Cifar, 1.0, 3, 32, 64, "2048-2048-2048", 5, 2);

    /// <summary>tools/quickstart.sh's configuration: ResNet-18 width 0.25, Fashion-MNIST's 28x28x1, batch 128.</summary>
    public static readonly StepCase Quickstart = new("quickstart", "the quickstart's step (ResNet-18 width 0.25 cifar, 28x28x1, batch 128, mlp 512-512-512) vs PyTorch",
        "resnet18", ResNetStem.Cifar, 0.25, 1, 28, 128, "512-512-512", 5, 2);

    /// <summary>An ImageNet-size step; slow (seconds a step) and several GiB, so only on request.</summary>
    public static readonly StepCase ResNet50 = new("vicreg50", "ResNet-50 imagenet stem, 224x224, batch 8, mlp 8192-8192-8192 vs PyTorch (not in 'all')",
        "resnet50", ResNetStem.Imagenet, 1.0, 3, 224, 8, "8192-8192-8192", 3, 1, InAll: false);

    public string Name => config.Name;
    public string Description => config.Description;
    public bool InAll => config.InAll;

    public void Run(BenchOptions options)
    {
        int steps = options.Quick ? config.QuickSteps : config.Steps;
        int[] threadCounts = [1, Environment.ProcessorCount];
        var torch = PyTorchSteps(threadCounts, steps);
        int batch = config.Batch;
        Console.WriteLine($"{"threads",7} | {"ours pairs/s",12} {"torch pairs/s",13} {"ratio",6} | {"ours ms",8} {"torch ms",8} | memory in steady steps");
        int saved = CpuParallel.ThreadCount;
        var seconds = new Dictionary<int, double>();
        try
        {
            // One model for both thread counts, so that the peak memory is one step's.
            var fixture = Fixture();
            foreach (int threads in threadCounts)
            {
                CpuParallel.ThreadCount = threads;
                var (s, systemAllocations, gcBytes) = OurStep(fixture, steps);
                seconds[threads] = s;
                double ours = batch / s;
                string theirs = torch.TryGetValue(threads, out var t) ? $"{batch / t.Seconds,13:F2} {ours * t.Seconds / batch,6:F2}" : $"{"n/a",13} {"",6}";
                string theirMs = torch.TryGetValue(threads, out var t2) ? $"{t2.Seconds * 1000,8:F0}" : $"{"n/a",8}";
                Console.WriteLine($"{threads,7} | {ours,12:F2} {theirs} | {s * 1000,8:F0} {theirMs} | {systemAllocations} new native buffers, {gcBytes} bytes of GC objects per step");
            }
            // Read before the flop count below builds a second model.
            long peakRss = Process.GetCurrentProcess().PeakWorkingSet64;
            var memory = CpuBackend.Instance.MemoryStatistics;
            string theirRss = torch.Count > 0 ? $"{torch.Values.Max(t => t.MaxRssMiB):F0} MiB" : "n/a";
            Console.WriteLine($"peak resident memory: ours {peakRss / 1048576.0:F0} MiB (this process so far; the allocator holds " +
                $"{(memory.BytesInUse + memory.BytesCached) / 1048576.0:F0} MiB), PyTorch {theirRss} (its process, getrusage)");
            fixture.Dispose();
            double flops = StepFlops();
            foreach (int threads in threadCounts)
                Console.WriteLine($"{threads} thread(s): {flops * 1e-9:F1} GFLOP nominal a step (GEMMs and direct convolutions) in {seconds[threads] * 1000:F0} ms: " +
                    FmaPeak.Fraction(flops / seconds[threads] * 1e-9, threads));
        }
        finally
        {
            CpuParallel.ThreadCount = saved;
        }
    }

    private VicregStepFixture Fixture(IBackend? backend = null)
        => new(config.Width, config.Channels, config.Size, config.Batch, config.Mlp, backend, arch: config.Arch, stem: config.Stem);

    /// <summary>Median seconds per step of our engine, how many buffers the allocator took from the
    /// system during the timed (steady) steps, kernel scratch grown on any thread included (0 when the cache and the
    /// scratch serve everything), and the GC bytes a step allocates
    /// on all threads of this process (0: tensor headers and tape nodes come back from their pools).</summary>
    private static (double Seconds, long SystemAllocations, long GcBytesPerStep) OurStep(VicregStepFixture fixture, int steps)
    {
        void Step() => fixture.Step();
        Step();
        Step();
        long before = NativeBuffersTaken();
        var times = new double[steps];
        var sw = new Stopwatch();
        long gcBefore = GC.GetTotalAllocatedBytes(precise: true); // after the two objects above, which are not the step's
        for (int i = 0; i < steps; i++)
        {
            sw.Restart();
            Step();
            times[i] = sw.Elapsed.TotalSeconds;
        }
        long after = NativeBuffersTaken();
        long gcPerStep = (GC.GetTotalAllocatedBytes(precise: true) - gcBefore) / steps;
        Array.Sort(times);
        return (times[steps / 2], after - before, gcPerStep);
    }

    /// <summary>Buffers taken from the system so far: the tensor allocator's, and every growth of a thread's kernel scratch.</summary>
    private static long NativeBuffersTaken() => CpuBackend.Instance.MemoryStatistics.SystemAllocations + ThreadScratch.Growths;

    /// <summary>The nominal flops of one step, counted by running it once through <see cref="ProfilingBackend"/>.</summary>
    private double StepFlops()
    {
        var backend = new ProfilingBackend(CpuBackend.Instance);
        using var fixture = Fixture(backend);
        backend.Reset();
        fixture.Step();
        return backend.Flops;
    }

    /// <summary>Median seconds per step of PyTorch at each thread count, and its process's peak resident
    /// memory (empty when torch is unavailable).</summary>
    private Dictionary<int, (double Seconds, double MaxRssMiB)> PyTorchSteps(int[] threadCounts, int steps)
    {
        var result = new Dictionary<int, (double, double)>();
        string script = Path.Combine(RepositoryRoot(), "tools", "reference", "vicreg_step.py");
        var start = new ProcessStartInfo("/usr/bin/python3")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        var inv = CultureInfo.InvariantCulture;
        foreach (string a in new[] { script, "--threads", string.Join(',', threadCounts), "--steps", steps.ToString(inv),
                     "--arch", config.Arch, "--stem", config.Stem.Name(), "--width", config.Width.ToString(inv),
                     "--channels", config.Channels.ToString(inv), "--size", config.Size.ToString(inv),
                     "--batch", config.Batch.ToString(inv), "--mlp", config.Mlp })
            start.ArgumentList.Add(a);
        try
        {
            using var p = Process.Start(start)!;
            var stderrTask = p.StandardError.ReadToEndAsync();
            string stdout = p.StandardOutput.ReadToEnd();
            string stderr = stderrTask.Result;
            p.WaitForExit();
            foreach (var line in stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                using var doc = JsonDocument.Parse(line);
                var root = doc.RootElement;
                result[root.GetProperty("threads").GetInt32()] = (root.GetProperty("step_ms").GetDouble() / 1000, root.GetProperty("max_rss_mib").GetDouble());
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
