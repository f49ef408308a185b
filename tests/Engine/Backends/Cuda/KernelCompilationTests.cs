using Vicreg.Engine.Backends.Cuda;
using Vicreg.Engine.Backends.Cuda.Native;

namespace Vicreg.Tests.Engine.Backends.Cuda;

/// <summary>Every kernel source compiles with NVRTC to CUBIN for three architectures, and every kernel the
/// backend launches is a function symbol of the CUBIN. Needs NVRTC only, no GPU.</summary>
public class KernelCompilationTests
{
    public static TheoryData<string, int> ModulesAndArchitectures()
    {
        var data = new TheoryData<string, int>();
        foreach (var module in KernelSources.Modules)
            foreach (int arch in new[] { 70, 80, 90 })
                data.Add(module, arch);
        return data;
    }

    [SkippableTheory]
    [MemberData(nameof(ModulesAndArchitectures))]
    public void Compiles_to_cubin_holding_every_launched_kernel(string module, int architecture)
    {
        Skip.IfNot(CudaLibraries.TryLoad(CudaLibrary.Nvrtc, out _), $"skipped: {CudaLibraries.NotFoundMessage(CudaLibrary.Nvrtc)}");
        Skip.IfNot(Nvrtc.SupportedArchitectures().Contains(architecture), $"skipped: this NVRTC cannot target sm_{architecture}");

        byte[] cubin = NvrtcCompiler.Compile(module, KernelSources.Bytes(module), architecture);
        var functions = ElfSymbols.FunctionNames(cubin);

        var expected = CudaKernelCatalog.Entries.Where(e => e.Module == module).Select(e => e.Name).ToArray();
        Assert.NotEmpty(expected); // a source no kernel launches from is dead code
        foreach (var name in expected)
            Assert.True(functions.Contains(name), $"{module}.cu for sm_{architecture} lacks kernel {name}; it has: {string.Join(", ", functions)}");
    }

    /// <summary>The PTX fallback (a GPU newer than NVRTC knows): every module compiles to PTX text for the newest architecture
    /// this NVRTC targets, declares its version and target, and holds every kernel the backend launches as an entry.</summary>
    [SkippableTheory]
    [MemberData(nameof(Modules))]
    public void Compiles_to_ptx_holding_every_launched_kernel(string module)
    {
        Skip.IfNot(CudaLibraries.TryLoad(CudaLibrary.Nvrtc, out _), $"skipped: {CudaLibraries.NotFoundMessage(CudaLibrary.Nvrtc)}");
        int newest = Nvrtc.SupportedArchitectures().Max();
        // What the backend hands the driver for a device one generation past NVRTC (read through the disk cache or compiled).
        byte[] image = KernelCache.CompiledImage(module, newest + 10, out string origin);
        Assert.True(origin.EndsWith(".ptx", StringComparison.Ordinal) || origin.Contains($"compute_{newest}"), origin);
        Assert.Equal(0, image[^1]); // cuModuleLoadData reads PTX as a NUL-terminated string
        string ptx = System.Text.Encoding.ASCII.GetString(image, 0, image.Length - 1);
        Assert.DoesNotContain('\0', ptx);
        Assert.Matches(@"(?m)^\.version \d+\.\d+$", ptx);
        Assert.Matches($@"(?m)^\.target sm_{newest}\b", ptx);
        Assert.Matches(@"(?m)^\.address_size 64$", ptx);
        foreach (var (_, name) in CudaKernelCatalog.Entries.Where(e => e.Module == module))
            Assert.Matches($@"(?m)^\.visible \.entry {name}\(", ptx);
    }

    public static TheoryData<string> Modules() => new(CudaKernelCatalog.Modules);

    [Fact]
    public void Every_catalogued_module_is_an_embedded_source()
    {
        var modules = KernelSources.Modules;
        foreach (var module in CudaKernelCatalog.Modules) Assert.Contains(module, modules);
    }

    [SkippableFact]
    public void A_compile_error_reports_the_nvrtc_log()
    {
        Skip.IfNot(CudaLibraries.TryLoad(CudaLibrary.Nvrtc, out _), $"skipped: {CudaLibraries.NotFoundMessage(CudaLibrary.Nvrtc)}");
        var e = Assert.Throws<CudaException>(() => NvrtcCompiler.Compile("broken", "extern \"C\" __global__ void k() { undefined_name(); }"u8, 80));
        Assert.Contains("undefined_name", e.Message);
        Assert.Contains("broken.cu", e.Message);
    }

    [Fact]
    public void Elf_reader_rejects_non_elf_input()
    {
        Assert.Throws<InvalidDataException>(() => ElfSymbols.FunctionNames(new byte[100]));
    }
}
