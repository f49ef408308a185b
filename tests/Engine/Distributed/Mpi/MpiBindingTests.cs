using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using Vicreg.Engine.Distributed.Mpi;

namespace Vicreg.Tests.Engine.Distributed.Mpi;

/// <summary>
/// Our OpenMPI bindings against the installed mpi.h (libopenmpi-dev): every [LibraryImport] is declared
/// there with the same number of parameters, each an int where the header has an int and a pointer or
/// handle where it has one; every predefined handle we resolve is an exported object behind the macro we
/// mean; the constants we copied have the header's values; and every name resolves in libmpi.so.40.
/// </summary>
public partial class MpiBindingTests
{
    private const string HeaderPath = "/usr/lib/x86_64-linux-gnu/openmpi/include/mpi.h";
    private static readonly Lazy<string> Header = new(() => File.ReadAllText(HeaderPath));

    private static List<MethodInfo> Imports() =>
        typeof(MpiNative).GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static)
            .Where(m => m.GetCustomAttribute<LibraryImportAttribute>() is not null).ToList();

    /// <summary>The parameter kinds of a C prototype: "int" for a plain int, "ptr" for pointers and MPI handles.</summary>
    private static string[] HeaderSignature(string name)
    {
        var match = Regex.Match(Header.Value, @"OMPI_DECLSPEC\s+int\s+" + Regex.Escape(name) + @"\(([^)]*)\);");
        Assert.True(match.Success, $"mpi.h declares no int {name}(...)");
        var parameters = match.Groups[1].Value.Trim();
        if (parameters == "void") return [];
        return parameters.Split(',').Select(p =>
        {
            var text = Regex.Replace(p, @"\s+", " ").Trim();
            if (text.Contains('*') || text.Contains('[') || text.StartsWith("MPI_", StringComparison.Ordinal)) return "ptr";
            Assert.Matches(@"^(const )?int \w+$", text);
            return "int";
        }).ToArray();
    }

    private static string ManagedKind(Type t) => t == typeof(int) ? "int" : t == typeof(nint) || t.IsPointer ? "ptr" : t.Name;

    [Fact]
    public void Every_import_matches_its_mpi_h_prototype()
    {
        var imports = Imports();
        Assert.NotEmpty(imports);
        foreach (var m in imports)
        {
            string entry = m.GetCustomAttribute<LibraryImportAttribute>()!.EntryPoint!;
            Assert.Equal(m.Name, entry);
            Assert.Equal(typeof(int), m.ReturnType);
            var expected = HeaderSignature(entry);
            var actual = m.GetParameters().Select(p => ManagedKind(p.ParameterType)).ToArray();
            Assert.True(expected.SequenceEqual(actual), $"{entry}: mpi.h has ({string.Join(", ", expected)}), we bind ({string.Join(", ", actual)})");
        }
        Assert.Equal(imports.Select(m => m.Name).Order(StringComparer.Ordinal), MpiNative.EntryPoints.Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData("MPI_COMM_WORLD", "ompi_mpi_comm_world")]
    [InlineData("MPI_FLOAT", "ompi_mpi_float")]
    [InlineData("MPI_DOUBLE", "ompi_mpi_double")]
    [InlineData("MPI_SUM", "ompi_mpi_op_sum")]
    [InlineData("MPI_ERRORS_RETURN", "ompi_mpi_errors_return")]
    public void Predefined_handles_are_the_objects_the_macros_name(string macro, string symbol)
    {
        Assert.Contains(symbol, MpiNative.PredefinedSymbols);
        Assert.Matches(@"#define " + macro + @" OMPI_PREDEFINED_GLOBAL\(\s*MPI_\w+,\s*" + symbol + @"\)", Header.Value);
        Assert.Matches(@"OMPI_DECLSPEC extern struct ompi_predefined_\w+_t " + symbol + ";", Header.Value);
        Assert.NotEqual(0, MpiNative.Predefined(symbol));
    }

    [Fact]
    public void Constants_have_the_header_values()
    {
        Assert.Matches(@"#define MPI_SUCCESS\s+" + MpiNative.Success + @"\s", Header.Value);
        Assert.Matches(@"#define MPI_IN_PLACE\s+\(\(void \*\) " + MpiNative.InPlace + @"\)", Header.Value);
        Assert.Matches(@"#define OPAL_MAX_ERROR_STRING " + MpiNative.MaxErrorString + @"\s", Header.Value);
        var threadLevels = ThreadEnum().Match(Header.Value);
        Assert.True(threadLevels.Success, "mpi.h has no MPI_THREAD_* enum");
        var names = threadLevels.Groups[1].Value.Split(',').Select(s => s.Trim()).ToList();
        Assert.Equal(MpiNative.ThreadFunneled, names.IndexOf("MPI_THREAD_FUNNELED"));
    }

    [Fact]
    public void Every_name_resolves_in_the_installed_library()
    {
        Assert.True(NativeLibrary.TryLoad(MpiNative.LibraryName, out nint handle), $"{MpiNative.LibraryName} is not installed (bash tools/install-deps.sh)");
        foreach (var name in MpiNative.EntryPoints.Concat(MpiNative.PredefinedSymbols))
            Assert.True(NativeLibrary.TryGetExport(handle, name, out _), $"{MpiNative.LibraryName} does not export {name}");
    }

    [GeneratedRegex(@"enum \{\s*(MPI_THREAD_SINGLE,[^}]*)\}")]
    private static partial Regex ThreadEnum();
}
