using System.Text.RegularExpressions;

namespace Vicreg.Tests.Architecture;

/// <summary>A file's namespace is its folder: the project's root namespace followed by the folder path below it.</summary>
public sealed partial class NamespaceFolderTests
{
    /// <summary>Project folders and their root namespaces.</summary>
    private static readonly (string Folder, string Namespace)[] Roots =
    [
        ("engine", "Vicreg.Engine"),
        ("vicreg", "Vicreg"),
        ("tests", "Vicreg.Tests"),
        ("tools/bench", "Vicreg.Bench"),
    ];

    /// <summary>The documented exceptions, by folder. engine/Ops holds the partial class <c>Ops</c> (one file per op
    /// family); it stays in its parent namespace, because a namespace Vicreg.Engine.Ops would clash with the class.</summary>
    private static readonly Dictionary<string, string> FolderExceptions = new(StringComparer.Ordinal)
    {
        ["engine/Ops"] = "Vicreg.Engine",
    };

    /// <summary>Files without a namespace: assembly-level attributes only.</summary>
    private static readonly HashSet<string> WithoutNamespace = new(StringComparer.Ordinal) { "tests/AssemblyInfo.cs" };

    [GeneratedRegex(@"^namespace\s+([\w.]+)\s*[;{]", RegexOptions.Multiline)]
    private static partial Regex NamespaceDeclaration();

    /// <summary>The namespace a file in <paramref name="folder"/> must declare.</summary>
    public static string Expected(string folder)
    {
        if (FolderExceptions.TryGetValue(folder, out var exception)) return exception;
        var (root, ns) = Roots.Where(r => folder == r.Folder || folder.StartsWith(r.Folder + "/", StringComparison.Ordinal))
                              .MaxBy(r => r.Folder.Length);
        if (root is null) throw new ArgumentException($"{folder} is in no project folder");
        return ns + string.Concat(folder[root.Length..].Split('/', StringSplitOptions.RemoveEmptyEntries).Select(s => "." + s));
    }

    /// <summary>Every mismatch as "file: declares X, folder says Y".</summary>
    public static List<string> Mismatches(IEnumerable<string> files, Func<string, string> read)
    {
        var problems = new List<string>();
        foreach (var file in files)
        {
            var declared = NamespaceDeclaration().Matches(read(file)).Select(m => m.Groups[1].Value).Distinct().ToList();
            string folder = Path.GetDirectoryName(file)!.Replace('\\', '/');
            if (declared.Count == 0)
            {
                if (!WithoutNamespace.Contains(file)) problems.Add($"{file}: declares no namespace, folder says {Expected(folder)}");
                continue;
            }
            foreach (var ns in declared.Where(ns => ns != Expected(folder)))
                problems.Add($"{file}: declares {ns}, folder says {Expected(folder)}");
        }
        return problems;
    }

    [Fact]
    public void EveryFilesNamespaceIsItsFolder()
    {
        var files = Roots.SelectMany(r => SourceFiles.Under(r.Folder, "*.cs")).Distinct().ToList();
        Assert.True(files.Count > 100, $"found only {files.Count} source files under {SourceFiles.Root}");
        var problems = Mismatches(files, f => File.ReadAllText(Path.Combine(SourceFiles.Root, f)));
        Assert.True(problems.Count == 0, "namespaces that disagree with their folders:\n" + string.Join('\n', problems));
    }

    [Fact]
    public void AMisplacedNamespaceIsReported()
    {
        var sources = new Dictionary<string, string>
        {
            ["engine/Backends/Cpu/Gemm/Packing.cs"] = "namespace Vicreg.Engine.Backends.Cpu;\n",
            ["engine/Ops/Ops.Gelu.cs"] = "namespace Vicreg.Engine;\n",
            ["tests/App/Commands/X.cs"] = "namespace Vicreg.Tests.App.Commands;\n",
        };
        var problems = Mismatches(sources.Keys, f => sources[f]);
        Assert.Equal(["engine/Backends/Cpu/Gemm/Packing.cs: declares Vicreg.Engine.Backends.Cpu, folder says Vicreg.Engine.Backends.Cpu.Gemm"], problems);
    }
}
