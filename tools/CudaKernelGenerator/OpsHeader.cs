using System.Collections.Generic;
using System.Linq;
using System.Text.RegularExpressions;

namespace Vicreg.Tools.CudaKernelGenerator;

/// <summary>A C# enum the kernels switch on: its simple name (also its name in ops.cuh), its fully qualified C# name
/// and its members in declaration order with their values.</summary>
public sealed class OpEnum(string name, string fullName, IReadOnlyList<(string Member, long Value)> members)
{
    public string Name { get; } = name;
    public string FullName { get; } = fullName;
    public IReadOnlyList<(string Member, long Value)> Members { get; } = members;
}

/// <summary>Compares Kernels/ops.cuh (written by the build from the C# enums, CudaOpsHeader.targets) with the enums as
/// the compiler sees them, so a header the build failed to refresh, or one edited by hand, stops the build.</summary>
public static class OpsHeader
{
    public const string FileName = "ops.cuh";
    private static readonly Regex Enum = new(@"enum\s+class\s+([A-Za-z_]\w*)\s*:\s*int\s*\{([^}]*)\}");
    private static readonly Regex Member = new(@"^\s*([A-Za-z_]\w*)\s*=\s*(-?\d+)\s*$");

    /// <summary>What disagrees between the header text and the enums; empty when they agree.</summary>
    public static IReadOnlyList<string> Mismatches(string header, IReadOnlyList<OpEnum> enums)
    {
        var declared = new Dictionary<string, List<(string Member, long Value)>>();
        foreach (Match m in Enum.Matches(header))
        {
            var members = new List<(string, long)>();
            foreach (string entry in m.Groups[2].Value.Split(',').Where(e => e.Trim().Length > 0))
            {
                var member = Member.Match(entry);
                if (member.Success) members.Add((member.Groups[1].Value, long.Parse(member.Groups[2].Value)));
                else members.Add((entry.Trim(), long.MinValue));
            }
            declared[m.Groups[1].Value] = members;
        }
        var problems = new List<string>();
        foreach (var e in enums)
        {
            if (!declared.TryGetValue(e.Name, out var members)) { problems.Add($"{FileName} lacks enum class {e.Name}"); continue; }
            string expected = string.Join(", ", e.Members.Select(m => $"{m.Member} = {m.Value}"));
            string found = string.Join(", ", members.Select(m => $"{m.Member} = {m.Value}"));
            if (expected != found) problems.Add($"{FileName} has {e.Name} {{ {found} }} but the C# enum is {{ {expected} }}");
        }
        foreach (string name in declared.Keys.Where(n => enums.All(e => e.Name != n)))
            problems.Add($"{FileName} declares enum class {name}, which is not an op enum of the launchers");
        return problems;
    }
}
