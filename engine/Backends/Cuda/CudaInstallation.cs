using System.Globalization;
using Vicreg.Engine.Backends.Cuda.Native;

namespace Vicreg.Engine.Backends.Cuda;

/// <summary>What `vicreg devices` reports about the NVIDIA software, as text, so that the program never reaches
/// into the P/Invoke layer (Native/). Like <see cref="CudaProbe"/>, nothing here throws.</summary>
public static class CudaInstallation
{
    /// <summary>The driver library's file name as loaded (e.g. libcuda.so.1), or null when it is missing.</summary>
    public static string? DriverLibrary => CudaLibraries.LoadedName(CudaLibrary.Driver);

    /// <summary>Each library the probe looked for: its display name, the file loaded (null when missing), and its
    /// version or why it is missing.</summary>
    public static IEnumerable<(string Name, string? Loaded, string Detail)> Libraries(CudaProbeReport probe) =>
        probe.Libraries.Select(l => (CudaLibraries.DisplayName(l.Library), l.LoadedName, l.Detail));

    /// <summary>"NVRTC compiles CUBIN for: sm_50 ..." (or NVRTC's error), or null when NVRTC is not installed.</summary>
    public static string? NvrtcArchitectures()
    {
        if (!CudaLibraries.TryLoad(CudaLibrary.Nvrtc, out _)) return null;
        try
        {
            var archs = Nvrtc.SupportedArchitectures();
            return $"NVRTC compiles CUBIN for: {string.Join(' ', archs.Select(a => "sm_" + a.ToString(CultureInfo.InvariantCulture)))}";
        }
        catch (CudaException e) { return $"NVRTC: {e.Message}"; }
    }

    /// <summary>Where compiled kernels are cached on disk.</summary>
    public static string KernelCacheDirectory => KernelCache.Directory;
}
