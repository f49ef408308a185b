using System.Collections.Generic;
using System.Linq;
using System.Text.RegularExpressions;

namespace Vicreg.Tools.CudaKernelGenerator;

/// <summary>One parameter of a kernel as the .cu declares it: its name, its C type after typedefs (without const,
/// __restrict__ and the pointer star) and whether it is a pointer.</summary>
public sealed class KernelParameter(string name, string cudaType, bool isPointer)
{
    public string Name { get; } = name;
    public string CudaType { get; } = cudaType;
    public bool IsPointer { get; } = isPointer;
}

/// <summary>An extern "C" __global__ kernel: the module (the .cu file name without extension), its name and parameters.</summary>
public sealed class KernelSignature(string module, string name, IReadOnlyList<KernelParameter> parameters, int line)
{
    public string Module { get; } = module;
    public string Name { get; } = name;
    public IReadOnlyList<KernelParameter> Parameters { get; } = parameters;
    /// <summary>1-based line of the declaration in the .cu file, for diagnostics.</summary>
    public int Line { get; } = line;
}

/// <summary>Something in a .cu file the generator refuses, with its 1-based line.</summary>
public sealed class SourceProblem(string message, int line)
{
    public string Message { get; } = message;
    public int Line { get; } = line;
}

/// <summary>Reads the kernel signatures out of a .cu text. Only what our kernels use is understood: typedefs of
/// scalar types, the extern "C" __global__ void declarations, and op switches on names (a numeric case label is refused).</summary>
public static class KernelSourceParser
{
    private static readonly Regex Comment = new(@"//[^\n]*|/\*.*?\*/", RegexOptions.Singleline);
    private static readonly Regex Typedef = new(@"\btypedef\s+([A-Za-z_][\w\s]*?)\s+([A-Za-z_]\w*)\s*;");
    private static readonly Regex Kernel = new(@"extern\s+""C""\s+__global__\s+void\s+([A-Za-z_]\w*)\s*\(([^)]*)\)");
    private static readonly Regex NumericCase = new(@"\bcase\s+[-+]?\d");
    private static readonly Regex Identifier = new(@"^[A-Za-z_]\w*$");

    public static (IReadOnlyList<KernelSignature> Kernels, IReadOnlyList<SourceProblem> Problems) Parse(string module, string text)
    {
        // Comments become spaces of the same length, so offsets (and line numbers) stay those of the file.
        string code = Comment.Replace(text, m => Regex.Replace(m.Value, @"[^\n]", " "));
        var problems = new List<SourceProblem>();
        var aliases = new Dictionary<string, string>();
        foreach (Match m in Typedef.Matches(code)) aliases[m.Groups[2].Value] = Normalize(m.Groups[1].Value);

        foreach (Match m in NumericCase.Matches(code))
            problems.Add(new SourceProblem("a numeric case label: switch on the op names of ops.cuh (generated from the C# enums), not on numbers", LineOf(code, m.Index)));

        var kernels = new List<KernelSignature>();
        foreach (Match m in Kernel.Matches(code))
        {
            int line = LineOf(code, m.Index);
            var parameters = new List<KernelParameter>();
            string list = m.Groups[2].Value.Trim();
            if (list.Length > 0 && list != "void")
            {
                foreach (string raw in list.Split(','))
                {
                    var parameter = ParseParameter(raw, aliases);
                    if (parameter is null) problems.Add(new SourceProblem($"kernel {m.Groups[1].Value}: cannot read the parameter '{Normalize(raw)}'", line));
                    else parameters.Add(parameter);
                }
            }
            kernels.Add(new KernelSignature(module, m.Groups[1].Value, parameters, line));
        }
        return (kernels, problems);
    }

    private static KernelParameter? ParseParameter(string raw, Dictionary<string, string> aliases)
    {
        string text = raw.Replace("__restrict__", " ");
        int stars = text.Count(c => c == '*');
        var words = text.Replace("*", " ").Split((char[]?)null, System.StringSplitOptions.RemoveEmptyEntries)
            .Where(w => w != "const").ToList();
        if (words.Count < 2 || stars > 1 || !words.All(w => Identifier.IsMatch(w))) return null;
        string name = words[words.Count - 1];
        string type = string.Join(" ", words.Take(words.Count - 1));
        if (aliases.TryGetValue(type, out string? aliased)) type = aliased;
        return new KernelParameter(name, type, stars == 1);
    }

    private static string Normalize(string s) => Regex.Replace(s.Trim(), @"\s+", " ");

    private static int LineOf(string text, int index)
    {
        int line = 1;
        for (int i = 0; i < index; i++) if (text[i] == '\n') line++;
        return line;
    }
}
