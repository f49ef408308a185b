using Vicreg.Engine;
using Vicreg.Engine.Backends.Cpu;

namespace Vicreg.Bench;

/// <summary>
/// `dotnet run -c Release --project tools/bench -- &lt;section&gt;|all [--quick] [--repeats N]`.
/// Every figure is printed beside an anchor measured in the same run (the machine is shared and noisy).
/// </summary>
public static class Program
{
    public static readonly IBenchmark[] Benchmarks =
    [
        new GemmBenchmark(),
        new ConvolutionBenchmark(),
        new ConvolutionBenchmark("convq", "the quickstart's convs (ResNet-18 width 0.25, 28x28x1, batch 128) fwd+bwd vs our GEMM rate",
            ResNet18.Quickstart, 128),
        new VicregStepBenchmark(VicregStepBenchmark.Cifar),
        new VicregStepBenchmark(VicregStepBenchmark.Quickstart),
        new VicregStepBenchmark(VicregStepBenchmark.ResNet50),
        new ImagesSection(),
        new EmbedBenchmark(),
        new StepProfileBenchmark(),
        new DistBenchmark(),
    ];

    public static int Main(string[] args)
    {
        Device.Cpu = CpuBackend.Instance; // the core names no concrete backend: the bench chooses
        if (args.Length > 0 && args[0] == DistBenchmark.RankFlag) return DistBenchmark.RunRank(args);
        if (args.Length == 0 || args[0] is "-h" or "--help")
        {
            PrintUsage();
            return args.Length == 0 ? 2 : 0;
        }
        bool quick = false;
        int repeats = 7;
        var names = new List<string>();
        string? shapes = null;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case var name when !name.StartsWith('-'): names.Add(name); break;
                case "--quick": quick = true; break;
                case "--shapes" when i + 1 < args.Length: shapes = args[++i]; break;
                case "--shapes":
                    Console.Error.WriteLine("bench: --shapes needs the text to look for in the GEMM labels, e.g. --shapes \"(r50)\"");
                    return 2;
                case "--repeats" when i + 1 < args.Length && int.TryParse(args[i + 1], out repeats) && repeats > 0: i++; break;
                default:
                    Console.Error.WriteLine($"bench: unknown flag '{args[i]}'");
                    return 2;
            }
        }
        var options = new BenchOptions(quick, repeats, shapes);
        var selected = new List<IBenchmark>();
        foreach (var name in names)
        {
            var found = name == "all" ? Benchmarks.Where(b => b.InAll).ToArray() : Benchmarks.Where(b => b.Name == name).ToArray();
            if (found.Length == 0)
            {
                Console.Error.WriteLine($"bench: unknown section '{name}' (try --help)");
                return 2;
            }
            selected.AddRange(found);
        }
        if (selected.Count == 0)
        {
            Console.Error.WriteLine("bench: name a section, or all (try --help)");
            return 2;
        }
        Console.WriteLine($"# {Environment.ProcessorCount} cores, .NET {Environment.Version}, {DateTime.UtcNow:u}");
        foreach (var b in selected)
        {
            Console.WriteLine();
            Console.WriteLine($"== {b.Name}: {b.Description}");
            b.Run(options);
        }
        return 0;
    }

    private static void PrintUsage()
    {
        Console.WriteLine("usage: Vicreg.Bench <section>... | all [--quick] [--repeats N] [--shapes TEXT]");
        Console.WriteLine("  sections run in the order given, in one process; --shapes: gemm times only the products whose label contains TEXT");
        foreach (var b in Benchmarks) Console.WriteLine($"  {b.Name,-10} {b.Description}");
        Console.WriteLine("  all      every section in turn, except those marked 'not in all'");
    }
}
