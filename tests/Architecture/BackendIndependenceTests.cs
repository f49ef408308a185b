using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using Vicreg.Engine.Backends.Cpu;
using Vicreg.Engine.Backends.Cuda;
using Vicreg.Engine.Distributed.Mpi;

namespace Vicreg.Tests.Architecture;

/// <summary>A backend (and a communicator) knows nothing of autograd: it sees shapes, element types and data
/// pointers, never the tape, a gradient, an op or a module. The project graph cannot say this (Tensor lives in the
/// core with the tape), so this reads what each compiled assembly references.</summary>
public sealed class BackendIndependenceTests
{
    /// <summary>Namespaces and types of the core that are autograd or above it.</summary>
    private static readonly string[] ForbiddenNamespaces = ["Vicreg.Engine.Autograd", "Vicreg.Engine.Nn", "Vicreg.Engine.Optim"];
    private static readonly string[] ForbiddenTypes = ["Vicreg.Engine.Ops"];

    /// <summary>Tensor's autograd members (properties appear as their accessors).</summary>
    private static readonly string[] ForbiddenTensorMembers =
        ["get_RequiresGrad", "set_RequiresGrad", "get_Grad", "set_Grad", "get_GradFn", "set_GradFn", "get_IsLeaf", "Backward"];

    /// <summary>Every type or Tensor member of the autograd the assembly at <paramref name="path"/> references.</summary>
    public static List<string> AutogradReferences(string path)
    {
        using var stream = File.OpenRead(path);
        using var pe = new PEReader(stream);
        var md = pe.GetMetadataReader();
        string FullName(TypeReferenceHandle h)
        {
            var t = md.GetTypeReference(h);
            string name = md.GetString(t.Name);
            if (t.ResolutionScope.Kind == HandleKind.TypeReference) return FullName((TypeReferenceHandle)t.ResolutionScope) + "+" + name;
            string ns = md.GetString(t.Namespace);
            return ns.Length == 0 ? name : ns + "." + name;
        }
        var found = new List<string>();
        foreach (var h in md.TypeReferences)
        {
            string name = FullName(h);
            if (ForbiddenTypes.Contains(name) || ForbiddenNamespaces.Any(ns => name.StartsWith(ns + ".", StringComparison.Ordinal)))
                found.Add(name);
        }
        foreach (var h in md.MemberReferences)
        {
            var member = md.GetMemberReference(h);
            if (member.Parent.Kind != HandleKind.TypeReference) continue;
            string owner = FullName((TypeReferenceHandle)member.Parent), name = md.GetString(member.Name);
            if (owner == "Vicreg.Engine.Tensor" && ForbiddenTensorMembers.Contains(name)) found.Add(owner + "." + name);
        }
        return found;
    }

    public static TheoryData<string> Assemblies => new()
    {
        typeof(CpuBackend).Assembly.Location,
        typeof(CudaBackend).Assembly.Location,
        typeof(MpiCommunicator).Assembly.Location,
    };

    [Theory]
    [MemberData(nameof(Assemblies))]
    public void ReferencesNoAutograd(string assembly)
    {
        var found = AutogradReferences(assembly);
        Assert.True(found.Count == 0, $"{Path.GetFileName(assembly)} references the autograd: {string.Join(", ", found.Distinct())}");
    }

    [Fact]
    public void AnAssemblyUsingTheTapeIsReported()
    {
        // The core itself is full of autograd: the check must see it there.
        var found = AutogradReferences(typeof(Vicreg.Tests.Engine.Models.ResNetTests).Assembly.Location);
        Assert.Contains(found, f => f.StartsWith("Vicreg.Engine.Nn.", StringComparison.Ordinal));
        Assert.Contains("Vicreg.Engine.Tensor.Backward", found);
    }
}
