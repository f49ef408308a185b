using Vicreg.Engine.Backends.Cpu;
using Vicreg.Engine.Backends.Cuda.Native;
using Vicreg.Engine.Backends.Cuda;
using Vicreg.Platform;

namespace Vicreg.Tests.Engine.Backends.Cuda;

public class DeviceSelectionTests
{
    [SkippableFact]
    public void Cuda_without_a_driver_fails_with_one_line_naming_the_missing_library()
    {
        Skip.If(CudaLibraries.TryLoad(CudaLibrary.Driver, out _), "skipped: a CUDA driver is installed here");
        var e = Assert.Throws<InvalidOperationException>(() => BackendSelector.Resolve("cuda", _ => { }));
        Assert.Equal($"no CUDA device found: {CudaLibraries.NotFoundMessage(CudaLibrary.Driver)}", e.Message);
        if (OperatingSystem.IsLinux()) Assert.Equal("no CUDA device found: libcuda.so.1 not found", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [SkippableFact]
    public void Auto_without_a_device_falls_back_to_the_cpu_and_says_why()
    {
        var probe = CudaProbe.Run();
        Skip.If(probe.Unavailable is null, "skipped: a CUDA device is present");
        var said = new List<string>();
        var backend = BackendSelector.Resolve("auto", said.Add);
        Assert.Same(CpuBackend.Instance, backend);
        Assert.Single(said);
        Assert.StartsWith("device: cpu", said[0]);
        Assert.Contains($"no CUDA: {probe.Unavailable}", said[0]);
    }

    [Fact]
    public void Probe_reports_every_library_and_never_throws()
    {
        var probe = CudaProbe.Run();
        Assert.Equal(Enum.GetValues<CudaLibrary>().Length, probe.Libraries.Count);
        foreach (var (_, loaded, detail) in probe.Libraries)
            Assert.False(string.IsNullOrEmpty(detail), $"library {loaded} has no detail");
        if (probe.Devices.Count == 0) Assert.NotNull(probe.Unavailable);
    }

    [Fact]
    public void Cache_key_changes_with_source_options_version_and_architecture()
    {
        byte[] source = KernelSources.Bytes("elementwise");
        var headers = KernelSources.Headers;
        string[] options = NvrtcCompiler.Options(80, ptx: false);
        string key = KernelCache.Key("elementwise", source, headers, options, (12, 4), 80);
        byte[] edited = [.. source, (byte)' '];
        Assert.NotEqual(key, KernelCache.Key("elementwise", edited, headers, options, (12, 4), 80));
        Assert.NotEqual(key, KernelCache.Key("elementwise", source, headers, NvrtcCompiler.Options(80, ptx: true), (12, 4), 80));
        Assert.NotEqual(key, KernelCache.Key("elementwise", source, headers, options, (12, 5), 80));
        Assert.NotEqual(key, KernelCache.Key("elementwise", source, headers, options, (12, 4), 86));
        Assert.Equal(key, KernelCache.Key("elementwise", source, headers, options, (12, 4), 80));
    }

    /// <summary>A module that includes a header must miss the disk cache when only the header is edited.</summary>
    [Fact]
    public void Cache_key_changes_when_an_included_header_changes()
    {
        byte[] source = KernelSources.Bytes("reductions");
        var headers = KernelSources.Headers;
        Assert.Contains(headers, h => h.Name == "block_reduce.cuh");
        string[] options = NvrtcCompiler.Options(80, ptx: false);
        string key = KernelCache.Key("reductions", source, headers, options, (12, 4), 80);
        var edited = headers.Select(h => h.Name == "block_reduce.cuh" ? (h.Name, (byte[])[.. h.Bytes, (byte)' ']) : h).ToArray();
        Assert.NotEqual(key, KernelCache.Key("reductions", source, edited, options, (12, 4), 80));
        var renamed = headers.Select(h => h.Name == "block_reduce.cuh" ? ("block_reduce2.cuh", h.Bytes) : h).ToArray();
        Assert.NotEqual(key, KernelCache.Key("reductions", source, renamed, options, (12, 4), 80));
        Assert.Equal(key, KernelCache.Key("reductions", source, KernelSources.Headers, options, (12, 4), 80));
    }
}

public class AheadOfTimeKernelTests
{
    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Vicreg.sln"))) return dir.FullName;
        throw new InvalidOperationException("Vicreg.sln not found above the test binaries");
    }

    /// <summary>cmake/CudaKernels.cmake names fatbins by file(SHA256) of the .cu; the engine by the SHA-256 of the
    /// embedded resource. Both must agree, or ahead-of-time kernels would silently never load.</summary>
    [SkippableFact]
    public void Fatbin_names_use_the_same_source_hash_as_cmake()
    {
        string root = RepositoryRoot();
        string? cmake = Environment.GetEnvironmentVariable("PATH")?.Split(':').Select(d => Path.Combine(d, "cmake")).FirstOrDefault(File.Exists);
        Skip.If(cmake is null, "skipped: cmake not installed");
        foreach (var module in KernelSources.Modules)
        {
            string file = Path.Combine(root, "engine", "Backends", "Cuda", "Kernels", module + ".cu");
            // The very function cmake/CudaKernels.cmake names the fatbins with, run as a script (it prints on stderr).
            var psi = new System.Diagnostics.ProcessStartInfo(cmake!, ["-D", $"SOURCE={file}", "-P", Path.Combine(root, "cmake", "KernelHash.cmake")])
                { RedirectStandardError = true };
            using var process = System.Diagnostics.Process.Start(psi)!;
            string output = process.StandardError.ReadToEnd().Trim();
            process.WaitForExit();
            Assert.Equal(16, output.Length);
            Assert.Equal(output, KernelSources.FatbinHash(KernelSources.Bytes(module)));
            Assert.EndsWith($"{module}.{output}.fatbin", KernelCache.FatbinCandidates(module, KernelSources.Bytes(module)).Last());
        }
    }
}

/// <summary>Runs alone: it changes a process-wide environment variable that kernel compilation reads.</summary>
[CollectionDefinition("CUDA environment variables", DisableParallelization = true)]
public sealed class CudaEnvironmentCollection;

[Collection("CUDA environment variables")]
public class KernelCacheEnvironmentTests
{
    [Fact]
    public void Kernel_cache_directory_honours_the_environment_override()
    {
        string? before = Environment.GetEnvironmentVariable("VICREG_KERNEL_CACHE");
        try
        {
            Environment.SetEnvironmentVariable("VICREG_KERNEL_CACHE", "/tmp/vicreg-kernel-cache-test");
            Assert.Equal("/tmp/vicreg-kernel-cache-test", KernelCache.Directory);
        }
        finally
        {
            Environment.SetEnvironmentVariable("VICREG_KERNEL_CACHE", before);
        }
    }

}
