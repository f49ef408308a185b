using System.Reflection;
using System.Runtime.InteropServices;
using Vicreg.Engine.Backends.Cuda.Native;

namespace Vicreg.Tests.Engine.Backends.Cuda;

/// <summary>Every [LibraryImport] in the bindings names a real header symbol, matches the class's own
/// EntryPoints list (which the backend checks at start-up), and resolves where the library is installed.</summary>
public class BindingTests
{
    private static readonly (Type Type, CudaLibrary Library, string[] Header, string HeaderName, string[] Declared)[] Bindings =
    [
        (typeof(CudaDriver), CudaLibrary.Driver, NvidiaHeaderSymbols.Cuda, NvidiaHeaderSymbols.CudaHeader, CudaDriver.EntryPoints),
        (typeof(Nvrtc), CudaLibrary.Nvrtc, NvidiaHeaderSymbols.Nvrtc, NvidiaHeaderSymbols.NvrtcHeader, Nvrtc.EntryPoints),
        (typeof(Cublas), CudaLibrary.Cublas, NvidiaHeaderSymbols.Cublas, NvidiaHeaderSymbols.CublasHeader, Cublas.EntryPoints),
        (typeof(Cudnn), CudaLibrary.Cudnn, NvidiaHeaderSymbols.Cudnn, NvidiaHeaderSymbols.CudnnHeader, Cudnn.EntryPoints.ToArray()),
        (typeof(Nccl), CudaLibrary.Nccl, NvidiaHeaderSymbols.Nccl, NvidiaHeaderSymbols.NcclHeader, Nccl.EntryPoints),
    ];

    public static TheoryData<string> Libraries() => new(Bindings.Select(b => b.Library.ToString()));

    private static (Type Type, CudaLibrary Library, string[] Header, string HeaderName, string[] Declared) Binding(string library) =>
        Bindings.Single(b => b.Library.ToString() == library);

    /// <summary>The entry points of the [LibraryImport] methods, read by reflection (tests only).</summary>
    private static List<string> Imported(Type type) =>
        type.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static)
            .Select(m => m.GetCustomAttribute<LibraryImportAttribute>())
            .Where(a => a is not null)
            .Select(a => a!.EntryPoint ?? throw new InvalidOperationException("every binding names its EntryPoint explicitly"))
            .ToList();

    [Theory]
    [MemberData(nameof(Libraries))]
    public void Every_import_is_a_header_symbol(string library)
    {
        var b = Binding(library);
        var imported = Imported(b.Type);
        Assert.NotEmpty(imported);
        foreach (var name in imported)
            Assert.True(b.Header.Contains(name), $"{b.Type.Name} binds {name}, which {b.HeaderName} does not declare");
        foreach (var name in imported)
            Assert.DoesNotContain(name, NvidiaHeaderSymbols.Renamed);
    }

    [Theory]
    [MemberData(nameof(Libraries))]
    public void Entry_point_list_matches_the_imports(string library)
    {
        var b = Binding(library);
        var imported = Imported(b.Type);
        Assert.Equal(imported.Count, imported.Distinct().Count());
        Assert.Equal(imported.Order(StringComparer.Ordinal), b.Declared.Order(StringComparer.Ordinal));
    }

    [Theory]
    [MemberData(nameof(Libraries))]
    public void Every_import_is_bound_to_its_logical_library(string library)
    {
        var b = Binding(library);
        string expected = b.Library switch
        {
            CudaLibrary.Driver => CudaLibraries.DriverName,
            CudaLibrary.Nvrtc => CudaLibraries.NvrtcName,
            CudaLibrary.Cublas => CudaLibraries.CublasName,
            CudaLibrary.Cudnn => CudaLibraries.CudnnName,
            _ => CudaLibraries.NcclName,
        };
        foreach (var m in b.Type.GetMethods(BindingFlags.Public | BindingFlags.Static))
            if (m.GetCustomAttribute<LibraryImportAttribute>() is { } a) Assert.Equal(expected, a.LibraryName);
    }

    [SkippableTheory]
    [MemberData(nameof(Libraries))]
    public void Every_import_resolves_in_the_installed_library(string library)
    {
        var b = Binding(library);
        Skip.IfNot(CudaLibraries.TryLoad(b.Library, out nint handle),
            $"skipped: {CudaLibraries.DisplayName(b.Library)} not installed ({CudaLibraries.NotFoundMessage(b.Library)})");
        var missing = Imported(b.Type).Where(name => !NativeLibrary.TryGetExport(handle, name, out _)).ToList();
        Assert.True(missing.Count == 0, $"{CudaLibraries.LoadedName(b.Library)} lacks: {string.Join(", ", missing)}");
    }

    [SkippableFact]
    public void Nvrtc_calls_go_through_the_resolver()
    {
        Skip.IfNot(CudaLibraries.TryLoad(CudaLibrary.Nvrtc, out _), $"skipped: {CudaLibraries.NotFoundMessage(CudaLibrary.Nvrtc)}");
        var (major, minor) = Nvrtc.Version();
        Assert.InRange(major, 11, 20);
        Assert.InRange(minor, 0, 99);
        Assert.Equal("NVRTC_ERROR_COMPILATION", Nvrtc.ErrorName(Nvrtc.ErrorCompilation));
    }

    [Fact]
    public unsafe void Struct_layouts_match_the_headers()
    {
        Assert.Equal(48, sizeof(Cudnn.AlgorithmPerformance));
        Assert.Equal(16, (int)Marshal.OffsetOf<Cudnn.AlgorithmPerformance>(nameof(Cudnn.AlgorithmPerformance.Memory)));
        Assert.Equal(24, (int)Marshal.OffsetOf<Cudnn.AlgorithmPerformance>(nameof(Cudnn.AlgorithmPerformance.Determinism)));
        Assert.Equal(128, sizeof(Nccl.UniqueId));
    }

    [Fact]
    public void Missing_library_error_names_every_file_tried()
    {
        var message = CudaLibraries.NotFoundMessage(CudaLibrary.Cublas);
        foreach (var candidate in CudaLibraries.Candidates(CudaLibrary.Cublas)) Assert.Contains(candidate, message);
        if (OperatingSystem.IsLinux())
        {
            Assert.Equal(["libcuda.so.1"], CudaLibraries.Candidates(CudaLibrary.Driver));
            Assert.Equal(["libnvrtc.so.12", "libnvrtc.so.11.2"], CudaLibraries.Candidates(CudaLibrary.Nvrtc));
            Assert.Equal(["libcudnn.so.9", "libcudnn.so.8"], CudaLibraries.Candidates(CudaLibrary.Cudnn));
        }
    }
}
