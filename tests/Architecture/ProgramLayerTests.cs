namespace Vicreg.Tests.Architecture;

/// <summary>Inside the program (one project), the arrows point down by folder: Commands use Training, Training never
/// names Commands; and nothing in the program reaches into the CUDA backend's P/Invoke layer.</summary>
public sealed class ProgramLayerTests
{
    private static readonly string[] BelowCommands = ["vicreg/Training", "vicreg/Models", "vicreg/Losses", "vicreg/Augment", "vicreg/Datasets", "vicreg/Platform"];

    /// <summary>Every forbidden import as "file: using X".</summary>
    public static List<string> Violations(IEnumerable<string> files, Func<string, string> read)
    {
        var problems = new List<string>();
        foreach (var file in files)
        {
            var usings = read(file).Split('\n').Select(l => l.Trim()).Where(l => l.StartsWith("using ", StringComparison.Ordinal));
            foreach (var line in usings)
            {
                bool below = BelowCommands.Any(f => file.StartsWith(f + "/", StringComparison.Ordinal));
                if ((below && line.Contains("Vicreg.Commands", StringComparison.Ordinal)) ||
                    line.Contains("Vicreg.Engine.Backends.Cuda.Native", StringComparison.Ordinal))
                    problems.Add($"{file}: {line}");
            }
        }
        return problems;
    }

    [Fact]
    public void TheProgramsFoldersImportDownwardOnly()
    {
        var files = SourceFiles.Under("vicreg", "*.cs").ToList();
        var problems = Violations(files, f => File.ReadAllText(Path.Combine(SourceFiles.Root, f)));
        Assert.True(problems.Count == 0, "imports against the program's layers:\n" + string.Join('\n', problems));
    }

    [Fact]
    public void AnUpwardImportIsReported()
    {
        var sources = new Dictionary<string, string>
        {
            ["vicreg/Training/Pretrainer.cs"] = "using Vicreg.Commands;\nnamespace Vicreg.Training;\n",
            ["vicreg/Commands/DevicesCommand.cs"] = "using Vicreg.Engine.Backends.Cuda.Native;\nusing Vicreg.Training;\n",
        };
        Assert.Equal(["vicreg/Training/Pretrainer.cs: using Vicreg.Commands;", "vicreg/Commands/DevicesCommand.cs: using Vicreg.Engine.Backends.Cuda.Native;"],
            Violations(sources.Keys, f => sources[f]));
    }
}
