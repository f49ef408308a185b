using System.Xml.Linq;

namespace Vicreg.Tests.Architecture;

/// <summary>The layers, as the project references that may exist (docs/ARCHITECTURE.md draws them). A reference
/// outside this table, or a project missing from it, fails: a new project takes its place in the picture first.</summary>
public sealed class ProjectGraphTests
{
    private const string Core = "engine/Vicreg.Engine.csproj";
    private const string Cpu = "engine/Backends/Cpu/Vicreg.Engine.Backends.Cpu.csproj";
    private const string Cuda = "engine/Backends/Cuda/Vicreg.Engine.Backends.Cuda.csproj";
    private const string Mpi = "engine/Distributed/Mpi/Vicreg.Engine.Distributed.Mpi.csproj";
    private const string Data = "engine/Data/Vicreg.Engine.Data.csproj";
    private const string Models = "engine/Models/Vicreg.Engine.Models.csproj";
    private const string Inference = "engine/Inference/Vicreg.Engine.Inference.csproj";
    private const string Program = "vicreg/Vicreg.csproj";
    /// <summary>A build tool, not a layer: the source generator the CUDA backend runs as an analyzer
    /// (tools/CudaKernelGenerator/CudaKernelGenerator.targets) and the tests exercise.</summary>
    private const string KernelGenerator = "tools/CudaKernelGenerator/Vicreg.CudaKernelGenerator.csproj";

    /// <summary>Each project and the projects it may reference directly. The core references nothing; a backend,
    /// a communicator, the data layer and the models reference the core only (so CUDA knows nothing of the CPU backend); inference runs the models on the CPU backend;
    /// the program chooses among them; tests and benchmarks may use everything.</summary>
    public static readonly Dictionary<string, string[]> Allowed = new(StringComparer.Ordinal)
    {
        [Core] = [],
        [Cpu] = [Core],
        [Cuda] = [Core],
        [Mpi] = [Core],
        [Data] = [Core],
        [Models] = [Core],
        [Inference] = [Core, Cpu, Data, Models],
        [Program] = [Core, Cpu, Cuda, Mpi, Data, Models, Inference],
        [KernelGenerator] = [],
        ["tests/Vicreg.Tests.csproj"] = [Core, Cpu, Cuda, Mpi, Data, Models, Inference, Program, KernelGenerator],
        ["tools/bench/Vicreg.Bench.csproj"] = [Core, Cpu, Cuda, Mpi, Data, Models, Inference, Program],
    };

    /// <summary>The project references of a .csproj, as repository-relative paths.</summary>
    public static IEnumerable<string> References(string project, string xml) =>
        XDocument.Parse(xml).Descendants("ProjectReference")
            .Select(r => (string?)r.Attribute("Include") ?? "")
            .Select(include => Path.GetRelativePath(".", Path.Combine(Path.GetDirectoryName(project)!, include.Replace('\\', '/'))).Replace('\\', '/'));

    /// <summary>Every crossing as "from -> to", and every project the table does not know.</summary>
    public static List<string> Violations(IEnumerable<string> projects, Func<string, string> read)
    {
        var problems = new List<string>();
        foreach (var project in projects)
        {
            if (!Allowed.TryGetValue(project, out var allowed))
            {
                problems.Add($"{project}: not in the layer table (tests/Architecture/ProjectGraphTests.cs)");
                continue;
            }
            foreach (var reference in References(project, read(project)).Where(r => !allowed.Contains(r)))
                problems.Add($"{project} -> {reference}: crosses a layer");
        }
        return problems;
    }

    [Fact]
    public void EveryProjectReferenceFollowsTheLayers()
    {
        var projects = new[] { "engine", "vicreg", "tests", "tools" }.SelectMany(f => SourceFiles.Under(f, "*.csproj")).ToList();
        Assert.Equal(Allowed.Keys.Order(StringComparer.Ordinal), projects.Order(StringComparer.Ordinal));
        var problems = Violations(projects, p => File.ReadAllText(Path.Combine(SourceFiles.Root, p)));
        Assert.True(problems.Count == 0, "project references that cross a layer:\n" + string.Join('\n', problems));
    }

    [Fact]
    public void ACrossingReferenceIsReported()
    {
        var files = new Dictionary<string, string>
        {
            [Cuda] = """<Project><ItemGroup><ProjectReference Include="../../Vicreg.Engine.csproj" /><ProjectReference Include="../Cpu/Vicreg.Engine.Backends.Cpu.csproj" /></ItemGroup></Project>""",
            [Core] = """<Project><ItemGroup><ProjectReference Include="Data/Vicreg.Engine.Data.csproj" /></ItemGroup></Project>""",
            ["engine/Nn/Vicreg.Engine.Nn.csproj"] = "<Project />",
        };
        Assert.Equal(
            [$"{Cuda} -> {Cpu}: crosses a layer", $"{Core} -> {Data}: crosses a layer", "engine/Nn/Vicreg.Engine.Nn.csproj: not in the layer table (tests/Architecture/ProjectGraphTests.cs)"],
            Violations(files.Keys, f => files[f]));
    }
}
