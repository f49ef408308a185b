using System.Diagnostics;
using Vicreg.Engine;
using Vicreg.Engine.Backends.Cpu;

namespace Vicreg.Bench;

/// <summary>
/// Where a VICReg step's time goes: runs a few steps through <see cref="ProfilingBackend"/> and prints
/// each kernel family's share, for the benchmark step (ResNet-18, 32x32 RGB, batch 64) and for the
/// quickstart's narrow network on Fashion-MNIST-sized input. No anchor: this attributes, it does not compare.
/// </summary>
public sealed class StepProfileBenchmark : IBenchmark
{
    public string Name => "profile";
    public string Description => "time per kernel family (convolutions per shape) in a VICReg step (no anchor: attribution only)";

    public void Run(BenchOptions options)
    {
        Profile("resnet18 cifar 32x32x3, batch 64, mlp 2048-2048-2048", 1.0, 3, 32, 64, "2048-2048-2048", options.Quick ? 2 : 4);
        Profile("quickstart: resnet18 width 0.25 cifar 28x28x1, batch 128, mlp 512-512-512", 0.25, 1, 28, 128, "512-512-512", options.Quick ? 2 : 4);
    }

    private static void Profile(string title, double width, int channels, int size, int batch, string mlp, int steps)
    {
        var backend = new ProfilingBackend(CpuBackend.Instance);
        var fixture = new VicregStepFixture(width, channels, size, batch, mlp, backend);
        void Step() => fixture.Step();
        Step();
        backend.Reset();
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < steps; i++) Step();
        double total = clock.Elapsed.TotalSeconds / steps;
        Console.WriteLine($"{title}: {total * 1000:F0} ms/step, {batch / total:F1} pairs/s, {CpuParallel.ThreadCount} threads");
        double kernels = 0;
        foreach (var (name, (ticks, calls)) in backend.Totals.OrderByDescending(kv => kv.Value.Ticks))
        {
            double ms = ticks * 1000.0 / Stopwatch.Frequency / steps;
            kernels += ms;
            if (ms / (total * 1000) >= 0.005)
                Console.WriteLine($"  {name,-36} {ms,9:F1} ms {100 * ms / (total * 1000),5:F1}%  ({calls / steps} calls)");
        }
        Console.WriteLine($"  {"(outside kernels)",-36} {total * 1000 - kernels,9:F1} ms {100 * (total * 1000 - kernels) / (total * 1000),5:F1}%");
    }
}
