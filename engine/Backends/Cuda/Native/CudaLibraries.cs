using System.Reflection;
using System.Runtime.InteropServices;
using System.Runtime.Loader;

namespace Vicreg.Engine.Backends.Cuda.Native;

/// <summary>
/// Finds the NVIDIA libraries by probing their versioned file names, newest first. The bindings use
/// logical names (<see cref="DriverName"/> …) that match no file, so the runtime's own probing fails and
/// asks <see cref="AssemblyLoadContext.ResolvingUnmanagedDll"/>: an event, unlike
/// NativeLibrary.SetDllImportResolver, can be subscribed by several parts of the engine without
/// clashing. Load failures are remembered so that error messages say exactly which names were tried.
/// </summary>
public static class CudaLibraries
{
    public const string DriverName = "vicreg-cuda-driver";
    public const string NvrtcName = "vicreg-cuda-nvrtc";
    public const string CublasName = "vicreg-cuda-cublas";
    public const string CudnnName = "vicreg-cuda-cudnn";
    public const string NcclName = "vicreg-cuda-nccl";

    private static readonly object s_lock = new();
    private static readonly nint[] s_handles = new nint[5];
    private static readonly string?[] s_loadedNames = new string?[5];
    private static readonly bool[] s_tried = new bool[5];
    private static int s_registered;

    /// <summary>File names tried for a library on this operating system, in order.</summary>
    public static IReadOnlyList<string> Candidates(CudaLibrary library)
    {
        if (OperatingSystem.IsWindows())
        {
            return library switch
            {
                CudaLibrary.Driver => ["nvcuda.dll"],
                CudaLibrary.Nvrtc => ["nvrtc64_120_0.dll", "nvrtc64_112_0.dll"],
                CudaLibrary.Cublas => ["cublas64_12.dll", "cublas64_11.dll"],
                CudaLibrary.Cudnn => ["cudnn64_9.dll", "cudnn64_8.dll"],
                _ => ["nccl.dll"],
            };
        }
        return library switch
        {
            // Never the unversioned libcuda.so: on machines without a driver it is the toolkit's stub.
            CudaLibrary.Driver => ["libcuda.so.1"],
            CudaLibrary.Nvrtc => ["libnvrtc.so.12", "libnvrtc.so.11.2"],
            CudaLibrary.Cublas => ["libcublas.so.12", "libcublas.so.11"],
            CudaLibrary.Cudnn => ["libcudnn.so.9", "libcudnn.so.8"],
            _ => ["libnccl.so.2"],
        };
    }

    public static string DisplayName(CudaLibrary library) => library switch
    {
        CudaLibrary.Driver => "CUDA driver",
        CudaLibrary.Nvrtc => "NVRTC",
        CudaLibrary.Cublas => "cuBLAS",
        CudaLibrary.Cudnn => "cuDNN",
        _ => "NCCL",
    };

    /// <summary>Makes the logical names resolvable; every binding class calls this from its static constructor.</summary>
    internal static void EnsureRegistered()
    {
        if (Interlocked.Exchange(ref s_registered, 1) == 1) return;
        AssemblyLoadContext.Default.ResolvingUnmanagedDll += Resolve;
        var own = AssemblyLoadContext.GetLoadContext(typeof(CudaLibraries).Assembly);
        if (own is not null && own != AssemblyLoadContext.Default) own.ResolvingUnmanagedDll += Resolve;
    }

    private static nint Resolve(Assembly assembly, string name)
    {
        CudaLibrary? library = name switch
        {
            DriverName => CudaLibrary.Driver,
            NvrtcName => CudaLibrary.Nvrtc,
            CublasName => CudaLibrary.Cublas,
            CudnnName => CudaLibrary.Cudnn,
            NcclName => CudaLibrary.Nccl,
            _ => null,
        };
        return library is { } l && TryLoad(l, out nint handle) ? handle : 0;
    }

    /// <summary>Loads a library (once) by its first loadable file name.</summary>
    public static bool TryLoad(CudaLibrary library, out nint handle)
    {
        int i = (int)library;
        lock (s_lock)
        {
            if (!s_tried[i])
            {
                s_tried[i] = true;
                foreach (var candidate in Candidates(library))
                {
                    if (NativeLibrary.TryLoad(candidate, out nint h))
                    {
                        s_handles[i] = h;
                        s_loadedNames[i] = candidate;
                        break;
                    }
                }
            }
            handle = s_handles[i];
            return handle != 0;
        }
    }

    /// <summary>The file name that was loaded, or null.</summary>
    public static string? LoadedName(CudaLibrary library) => TryLoad(library, out _) ? s_loadedNames[(int)library] : null;

    /// <summary>"libcublas.so.12 / libcublas.so.11 not found": the one-line reason a library is unavailable.</summary>
    public static string NotFoundMessage(CudaLibrary library) =>
        $"{string.Join(" / ", Candidates(library))} not found";

    /// <summary>Loads a library or throws one exception naming the files that were tried.</summary>
    public static nint Require(CudaLibrary library)
    {
        if (TryLoad(library, out nint handle)) return handle;
        throw new DllNotFoundException($"{DisplayName(library)}: {NotFoundMessage(library)}");
    }

    public static bool HasExport(CudaLibrary library, string symbol) =>
        TryLoad(library, out nint handle) && NativeLibrary.TryGetExport(handle, symbol, out _);

    /// <summary>Throws one exception naming the first symbol of <paramref name="symbols"/> the library lacks.</summary>
    public static void RequireExports(CudaLibrary library, IEnumerable<string> symbols)
    {
        nint handle = Require(library);
        foreach (var symbol in symbols)
        {
            if (!NativeLibrary.TryGetExport(handle, symbol, out _))
                throw new EntryPointNotFoundException($"{DisplayName(library)} ({LoadedName(library)}) has no symbol {symbol}: the installed version is too old or incomplete");
        }
    }
}
