using System.Runtime.InteropServices;

namespace Vicreg.Engine.Backends.Cuda.Native;

/// <summary>
/// NVRTC, the runtime compiler (libnvrtc.so.12 / .so.11.2), checked against nvrtc.h of CUDA 11.8 and 12.x.
/// It needs no GPU: the tests compile every kernel to CUBIN with it on CPU-only machines.
/// Every call returns an nvrtcResult (0 = NVRTC_SUCCESS).
/// </summary>
public static unsafe partial class Nvrtc
{
    static Nvrtc() => CudaLibraries.EnsureRegistered();
    private const string Lib = CudaLibraries.NvrtcName;

    public const int Success = 0;
    public const int ErrorCompilation = 6;

    public static readonly string[] EntryPoints =
    [
        "nvrtcVersion", "nvrtcGetErrorString", "nvrtcCreateProgram", "nvrtcCompileProgram", "nvrtcGetProgramLogSize",
        "nvrtcGetProgramLog", "nvrtcGetCUBINSize", "nvrtcGetCUBIN", "nvrtcGetPTXSize", "nvrtcGetPTX",
        "nvrtcDestroyProgram", "nvrtcGetNumSupportedArchs", "nvrtcGetSupportedArchs",
    ];

    [LibraryImport(Lib, EntryPoint = "nvrtcVersion")]
    public static partial int nvrtcVersion(int* major, int* minor);
    [LibraryImport(Lib, EntryPoint = "nvrtcGetErrorString")]
    public static partial byte* nvrtcGetErrorString(int result);
    [LibraryImport(Lib, EntryPoint = "nvrtcCreateProgram")]
    public static partial int nvrtcCreateProgram(nint* program, byte* source, byte* name, int headerCount, byte** headers, byte** includeNames);
    [LibraryImport(Lib, EntryPoint = "nvrtcCompileProgram")]
    public static partial int nvrtcCompileProgram(nint program, int optionCount, byte** options);
    [LibraryImport(Lib, EntryPoint = "nvrtcGetProgramLogSize")]
    public static partial int nvrtcGetProgramLogSize(nint program, nuint* size);
    [LibraryImport(Lib, EntryPoint = "nvrtcGetProgramLog")]
    public static partial int nvrtcGetProgramLog(nint program, byte* log);
    [LibraryImport(Lib, EntryPoint = "nvrtcGetCUBINSize")]
    public static partial int nvrtcGetCUBINSize(nint program, nuint* size);
    [LibraryImport(Lib, EntryPoint = "nvrtcGetCUBIN")]
    public static partial int nvrtcGetCUBIN(nint program, byte* cubin);
    [LibraryImport(Lib, EntryPoint = "nvrtcGetPTXSize")]
    public static partial int nvrtcGetPTXSize(nint program, nuint* size);
    [LibraryImport(Lib, EntryPoint = "nvrtcGetPTX")]
    public static partial int nvrtcGetPTX(nint program, byte* ptx);
    [LibraryImport(Lib, EntryPoint = "nvrtcDestroyProgram")]
    public static partial int nvrtcDestroyProgram(nint* program);
    [LibraryImport(Lib, EntryPoint = "nvrtcGetNumSupportedArchs")]
    public static partial int nvrtcGetNumSupportedArchs(int* count);
    [LibraryImport(Lib, EntryPoint = "nvrtcGetSupportedArchs")]
    public static partial int nvrtcGetSupportedArchs(int* architectures);

    public static string ErrorName(int result)
    {
        byte* s = nvrtcGetErrorString(result);
        return s == null ? $"nvrtcResult {result}" : Marshal.PtrToStringUTF8((nint)s) ?? $"nvrtcResult {result}";
    }

    public static void Check(int status, string call)
    {
        if (status != Success) throw new CudaException(call, status, ErrorName(status));
    }

    /// <summary>(major, minor) of the loaded NVRTC, e.g. (11, 8).</summary>
    public static (int Major, int Minor) Version()
    {
        int major, minor;
        Check(nvrtcVersion(&major, &minor), "nvrtcVersion");
        return (major, minor);
    }

    /// <summary>The sm_XY numbers (e.g. 70, 80, 90) this NVRTC can compile CUBIN for.</summary>
    public static int[] SupportedArchitectures()
    {
        int count;
        Check(nvrtcGetNumSupportedArchs(&count), "nvrtcGetNumSupportedArchs");
        var archs = new int[count];
        fixed (int* p = archs) Check(nvrtcGetSupportedArchs(p), "nvrtcGetSupportedArchs");
        return archs;
    }
}
