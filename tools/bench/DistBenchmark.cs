using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Vicreg.Engine.Backends.Cpu;
using Vicreg.Engine.Distributed.Mpi;
using Vicreg.Engine;
using Vicreg.Platform;

namespace Vicreg.Bench;

/// <summary>
/// Data parallelism over MPI on one machine. (1) The VICReg step at one global batch as 2 processes × 1
/// thread (mpirun -np 2, this program re-invoked with <see cref="RankFlag"/>) against 1 process × 2 threads
/// in this process: the throughput ratio, and the share of the 2-rank step spent inside the collectives
/// (timed by <see cref="TimingCommunicator"/>: transfer and waiting for the other rank), with the
/// collectives per step. The 2-rank step runs with OpenMPI's defaults, with mpi_yield_when_idle=1, and
/// with that and --bind-to none. (2) All-reduce bandwidth of <see cref="MpiCommunicator.AllReduceSum"/>
/// against a plain loop of MPI_Allreduce called through MpiNative without our checks and chunking, on the
/// same in-place float32 buffers: it measures what our wrapper costs, not MPI itself.
/// </summary>
public sealed class DistBenchmark : IBenchmark
{
    public string Name => "dist";
    public string Description => "VICReg step 2 ranks x 1 thread (mpirun) vs 1 process x 2 threads; all-reduce vs plain MPI_Allreduce";

    /// <summary>The hidden first argument that makes this program one rank of the benchmark's mpirun job.</summary>
    public const string RankFlag = "--dist-bench-rank";

    private const string Mpirun = "/usr/bin/mpirun";
    private static readonly int[] ReduceSizes = [1 << 8, 1 << 12, 1 << 16, 1 << 20, 1 << 22];

    /// <summary>The 2-rank launches compared: OpenMPI's defaults bind each rank to one core and busy-poll in
    /// collectives; the README's one-machine line lets the ranks' threads use any core and sleep when idle.</summary>
    private static readonly (string Label, string[] Flags)[] Launches =
    [
        ("2 ranks x 1 thread, OpenMPI defaults", []),
        ("2 ranks x 1 thread, yield_when_idle", ["--mca", "mpi_yield_when_idle", "1"]),
        ("2 ranks x 1 thread, + --bind-to none", ["--mca", "mpi_yield_when_idle", "1", "--bind-to", "none"]),
    ];

    private sealed record Config(double Width, int Batch, string Mlp, int Steps);

    private static Config For(BenchOptions options) => options.Quick
        ? new Config(0.25, 64, "512-512-512", 4)
        : new Config(1.0, 64, "2048-2048-2048", 6);

    public void Run(BenchOptions options)
    {
        if (!File.Exists(Mpirun))
        {
            Console.WriteLine($"# {Mpirun} missing: install OpenMPI (tools/install-deps.sh)");
            return;
        }
        var c = For(options);
        Console.WriteLine($"resnet18 width {c.Width} cifar 32x32x3, global batch {c.Batch}, mlp {c.Mlp}, median of {c.Steps} steps");
        double single = OneProcessStep(c, c.Batch, 2);
        double alone = OneProcessStep(c, c.Batch / 2, 1);
        Console.WriteLine($"{"run",-36} | {"pairs/s",8} {"ms/step",8} {"ratio",6} | in collectives | collectives/step");
        Console.WriteLine($"{"1 process x 2 threads (anchor)",-36} | {c.Batch / single,8:F2} {single * 1000,8:F0} {1.0,6:F2} |");
        // What a rank computes, alone on the machine: the 2-rank step cannot be faster than this.
        Console.WriteLine($"{"1 process x 1 thread, half the batch",-36} | {c.Batch / alone,8:F2} {alone * 1000,8:F0} {single / alone,6:F2} | (one rank's share, no communication)");
        RankReport? last = null;
        foreach (var (label, flags) in Launches)
        {
            var report = TwoRanks(c, flags, options.Repeats);
            if (report is null) continue;
            last = report;
            string counts = string.Join(", ", report.CallsPerStep.Select(kv => $"{kv.Value:F0} {kv.Key}"));
            Console.WriteLine($"{label,-36} | {c.Batch / report.StepSeconds,8:F2} {report.StepSeconds * 1000,8:F0} {single / report.StepSeconds,6:F2} | " +
                              $"{100 * report.CommunicationShare,5:F1}% of step | {counts} (a rank sees {report.Cores} cores, runs {report.Threads} kernel threads)");
        }
        if (last is null) return;
        Console.WriteLine();
        Console.WriteLine("all-reduce, 2 ranks, float32 in place: ours (MpiCommunicator.AllReduceSum) vs plain MPI_Allreduce loop");
        Console.WriteLine($"{"elements",10} | {"ours GB/s",9} {"plain GB/s",10} {"ratio",6} | {"ours us",9} {"plain us",9}");
        foreach (var (n, ours, plain) in last.Reduce)
            Console.WriteLine($"{n,10} | {Gbps(n, ours),9:F2} {Gbps(n, plain),10:F2} {plain / ours,6:F2} | {ours * 1e6,9:F1} {plain * 1e6,9:F1}");
        Console.WriteLine("(GB/s = buffer bytes / time; ratio = plain time / our time, 1.00 = no overhead)");
    }

    private static double Gbps(int elements, double seconds) => elements * 4.0 / seconds * 1e-9;

    private static double OneProcessStep(Config c, int batch, int threads)
    {
        int saved = CpuParallel.ThreadCount;
        try
        {
            CpuParallel.ThreadCount = threads;
            using var fixture = new VicregStepFixture(c.Width, 3, 32, batch, c.Mlp);
            fixture.Step();
            fixture.Step();
            var times = new double[c.Steps];
            for (int i = 0; i < c.Steps; i++)
            {
                long start = Stopwatch.GetTimestamp();
                fixture.Step();
                times[i] = Stopwatch.GetElapsedTime(start).TotalSeconds;
            }
            Array.Sort(times);
            return times[c.Steps / 2];
        }
        finally
        {
            CpuParallel.ThreadCount = saved;
        }
    }

    private sealed record RankReport(double StepSeconds, double CommunicationShare, int Cores, int Threads, Dictionary<string, double> CallsPerStep,
        List<(int Elements, double Ours, double Plain)> Reduce);

    /// <summary>Runs the 2-rank part under mpirun and reads rank 0's report (null, with the reason printed, when it fails).</summary>
    private static RankReport? TwoRanks(Config c, string[] mpirunFlags, int repeats)
    {
        var start = new ProcessStartInfo(Mpirun) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        string[] launcher = ["--allow-run-as-root", "--oversubscribe", "-np", "2", "-x", "VICREG_THREADS=1"];
        foreach (var a in launcher) start.ArgumentList.Add(a);
        foreach (var a in mpirunFlags) start.ArgumentList.Add(a);
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Vicreg.Bench"));
        foreach (var a in (string[])[RankFlag, c.Width.ToString(CultureInfo.InvariantCulture), c.Batch.ToString(CultureInfo.InvariantCulture), c.Mlp,
                     c.Steps.ToString(CultureInfo.InvariantCulture), repeats.ToString(CultureInfo.InvariantCulture)])
            start.ArgumentList.Add(a);
        using var p = Process.Start(start)!;
        var stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        string? json = stdout.Split('\n').Select(l => l.IndexOf('{') is int i and >= 0 ? l[i..] : null).LastOrDefault(l => l is not null);
        if (p.ExitCode != 0 || json is null)
        {
            Console.WriteLine($"# mpirun failed ({p.ExitCode}): {stderr.Result.Trim().Split('\n').LastOrDefault()}");
            return null;
        }
        using var doc = JsonDocument.Parse(json);
        var r = doc.RootElement;
        return new RankReport(r.GetProperty("step").GetDouble(), r.GetProperty("share").GetDouble(),
            r.GetProperty("cores").GetInt32(), r.GetProperty("threads").GetInt32(),
            r.GetProperty("calls").EnumerateObject().ToDictionary(e => e.Name, e => e.Value.GetDouble()),
            [.. r.GetProperty("reduce").EnumerateArray().Select(e => (e[0].GetInt32(), e[1].GetDouble(), e[2].GetDouble()))]);
    }

    /// <summary>One rank of the mpirun job: the data-parallel step, then the all-reduce loops; rank 0 prints
    /// one JSON line. Arguments after <see cref="RankFlag"/>: width, global batch, mlp, steps, repeats.</summary>
    public static int RunRank(string[] args)
    {
        double width = double.Parse(args[1], CultureInfo.InvariantCulture);
        int batch = int.Parse(args[2], CultureInfo.InvariantCulture);
        string mlp = args[3];
        int steps = int.Parse(args[4], CultureInfo.InvariantCulture);
        int repeats = int.Parse(args[5], CultureInfo.InvariantCulture);
        using var mpi = new MpiCommunicator();
        Communicators.ShareCores();
        var timed = new TimingCommunicator(mpi);
        double step, share;
        Dictionary<string, double> calls;
        using (var fixture = new VicregStepFixture(width, 3, 32, batch / mpi.Size, mlp, communicator: timed))
        {
            fixture.Step(); // warm-up: the allocator's cache and the JIT
            fixture.Step();
            timed.Reset();
            var times = new double[steps];
            double inCollectives = 0;
            for (int i = 0; i < steps; i++)
            {
                mpi.Barrier();
                double before = timed.Seconds;
                long s = Stopwatch.GetTimestamp();
                fixture.Step();
                times[i] = Stopwatch.GetElapsedTime(s).TotalSeconds;
                inCollectives += timed.Seconds - before;
            }
            Array.Sort(times);
            step = times[steps / 2];
            share = inCollectives / times.Sum();
            calls = timed.Totals.ToDictionary(kv => kv.Key, kv => kv.Value.Calls / (double)steps);
        }
        var reduce = ReduceBandwidth(mpi, repeats);
        if (mpi.Rank == 0)
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                step, share, cores = Environment.ProcessorCount, threads = CpuParallel.ThreadCount, calls,
                reduce = reduce.Select(r => new double[] { r.Elements, r.Ours, r.Plain }),
            }));
        return 0;
    }

    /// <summary>Median seconds per all-reduce at each size, ours and plain, in alternating blocks of a fixed
    /// number of calls (the same on every rank, so the collectives match; no calibration per rank).</summary>
    private static unsafe List<(int Elements, double Ours, double Plain)> ReduceBandwidth(MpiCommunicator mpi, int repeats)
    {
        nint world = MpiNative.Predefined("ompi_mpi_comm_world"), type = MpiNative.Predefined("ompi_mpi_float"), sum = MpiNative.Predefined("ompi_mpi_op_sum");
        var result = new List<(int, double, double)>();
        foreach (int n in ReduceSizes)
        {
            using var tensor = Tensor.FromArray<float>(Enumerable.Range(0, n).Select(i => (float)(i % 7) * 1e-3f).ToArray(), new Shape(n), CpuBackend.Instance);
            float* data = (float*)tensor.Data;
            int calls = Math.Clamp((64 << 20) / (n * 4), 4, 2000);
            void Ours() { for (int i = 0; i < calls; i++) mpi.AllReduceSum(tensor); }
            void Plain() { for (int i = 0; i < calls; i++) MpiNative.MPI_Allreduce((void*)MpiNative.InPlace, data, n, type, sum, world); }
            double Time(Action a)
            {
                mpi.Barrier();
                long s = Stopwatch.GetTimestamp();
                a();
                return Stopwatch.GetElapsedTime(s).TotalSeconds / calls;
            }
            Ours();
            Plain();
            var ours = new double[repeats];
            var plain = new double[repeats];
            for (int r = 0; r < repeats; r++)
            {
                ours[r] = Time(Ours);
                plain[r] = Time(Plain);
            }
            Array.Sort(ours);
            Array.Sort(plain);
            result.Add((n, ours[repeats / 2], plain[repeats / 2]));
        }
        return result;
    }
}
