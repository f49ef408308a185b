using System.Runtime.InteropServices;

namespace Vicreg.Engine.Backends.Cuda.Native;

/// <summary>
/// The CUDA driver API (libcuda.so.1 / nvcuda), checked against cuda.h of CUDA 12.x. Handles are
/// pointers (CUcontext, CUmodule, CUfunction, CUstream, CUevent); CUdevice is an int; CUdeviceptr is a
/// 64-bit integer, held as nint on our 64-bit targets. Functions that cuda.h renames with #define
/// (cuMemAlloc → cuMemAlloc_v2 …) are bound by their real _v2 symbol. Every call returns a CUresult
/// (0 = CUDA_SUCCESS); <see cref="Check"/> turns failures into a <see cref="CudaException"/>.
/// </summary>
public static unsafe partial class CudaDriver
{
    static CudaDriver() => CudaLibraries.EnsureRegistered();
    private const string Lib = CudaLibraries.DriverName;

    public const int Success = 0;
    public const int ErrorOutOfMemory = 2;
    public const int ErrorNoDevice = 100;
    public const int ErrorNoBinaryForGpu = 209;
    public const int ErrorNotReady = 600;

    // CUdevice_attribute values (cuda.h).
    public const int AttributeMaxThreadsPerBlock = 1;
    public const int AttributeMultiprocessorCount = 16;
    public const int AttributeComputeCapabilityMajor = 75;
    public const int AttributeComputeCapabilityMinor = 76;
    public const int AttributeMemoryPoolsSupported = 115;
    /// <summary>CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES.</summary>
    public const int FunctionAttributeMaxDynamicSharedSize = 8;
    /// <summary>CU_STREAM_NON_BLOCKING: no implicit synchronisation with the legacy default stream.</summary>
    public const uint StreamNonBlocking = 1;
    /// <summary>CU_EVENT_DISABLE_TIMING: cheaper events for pure ordering.</summary>
    public const uint EventDisableTiming = 2;
    /// <summary>CU_EVENT_BLOCKING_SYNC: cuEventSynchronize sleeps instead of spinning a CPU core.</summary>
    public const uint EventBlockingSync = 1;
    /// <summary>CU_CTX_SCHED_BLOCKING_SYNC: the context's synchronisations sleep instead of spinning a CPU core.</summary>
    public const uint ContextBlockingSync = 4;
    /// <summary>CUDA_ERROR_PRIMARY_CONTEXT_ACTIVE: drivers before 11.? refuse new flags once the primary context is active.</summary>
    public const int ErrorPrimaryContextActive = 708;

    /// <summary>Every symbol this class binds, for the start-up check and the header test.</summary>
    public static readonly string[] EntryPoints =
    [
        "cuInit", "cuDriverGetVersion", "cuDeviceGet", "cuDeviceGetCount", "cuDeviceGetName", "cuDeviceTotalMem_v2",
        "cuDeviceGetAttribute", "cuDevicePrimaryCtxRetain", "cuDevicePrimaryCtxRelease_v2", "cuDevicePrimaryCtxSetFlags_v2",
        "cuDevicePrimaryCtxGetState", "cuCtxSetCurrent",
        "cuCtxGetCurrent", "cuCtxSynchronize", "cuMemGetInfo_v2", "cuMemAlloc_v2", "cuMemFree_v2", "cuMemAllocAsync",
        "cuMemFreeAsync", "cuMemAllocHost_v2", "cuMemFreeHost", "cuMemcpyHtoD_v2", "cuMemcpyDtoH_v2",
        "cuMemcpyHtoDAsync_v2", "cuMemcpyDtoHAsync_v2", "cuMemcpyDtoDAsync_v2", "cuMemsetD32Async",
        "cuMemsetD2D32Async", "cuModuleLoadData", "cuModuleGetFunction", "cuModuleUnload", "cuFuncSetAttribute", "cuLaunchKernel",
        "cuStreamCreate", "cuStreamDestroy_v2", "cuStreamSynchronize", "cuStreamWaitEvent", "cuEventCreate",
        "cuEventRecord", "cuEventSynchronize", "cuEventElapsedTime", "cuEventDestroy_v2", "cuGetErrorName",
        "cuGetErrorString",
    ];

    // ---- initialization and devices -------------------------------------------------------------
    [LibraryImport(Lib, EntryPoint = "cuInit")]
    public static partial int cuInit(uint flags);
    [LibraryImport(Lib, EntryPoint = "cuDriverGetVersion")]
    public static partial int cuDriverGetVersion(int* version);
    [LibraryImport(Lib, EntryPoint = "cuDeviceGet")]
    public static partial int cuDeviceGet(int* device, int ordinal);
    [LibraryImport(Lib, EntryPoint = "cuDeviceGetCount")]
    public static partial int cuDeviceGetCount(int* count);
    [LibraryImport(Lib, EntryPoint = "cuDeviceGetName")]
    public static partial int cuDeviceGetName(byte* name, int length, int device);
    [LibraryImport(Lib, EntryPoint = "cuDeviceTotalMem_v2")]
    public static partial int cuDeviceTotalMem(nuint* bytes, int device);
    [LibraryImport(Lib, EntryPoint = "cuDeviceGetAttribute")]
    public static partial int cuDeviceGetAttribute(int* value, int attribute, int device);

    // ---- context ---------------------------------------------------------------------------------
    [LibraryImport(Lib, EntryPoint = "cuDevicePrimaryCtxRetain")]
    public static partial int cuDevicePrimaryCtxRetain(nint* context, int device);
    [LibraryImport(Lib, EntryPoint = "cuDevicePrimaryCtxRelease_v2")]
    public static partial int cuDevicePrimaryCtxRelease(int device);
    [LibraryImport(Lib, EntryPoint = "cuDevicePrimaryCtxSetFlags_v2")]
    public static partial int cuDevicePrimaryCtxSetFlags(int device, uint flags);
    [LibraryImport(Lib, EntryPoint = "cuDevicePrimaryCtxGetState")]
    public static partial int cuDevicePrimaryCtxGetState(int device, uint* flags, int* active);
    [LibraryImport(Lib, EntryPoint = "cuCtxSetCurrent")]
    public static partial int cuCtxSetCurrent(nint context);
    [LibraryImport(Lib, EntryPoint = "cuCtxGetCurrent")]
    public static partial int cuCtxGetCurrent(nint* context);
    [LibraryImport(Lib, EntryPoint = "cuCtxSynchronize")]
    public static partial int cuCtxSynchronize();

    // ---- memory ------------------------------------------------------------------------------------
    [LibraryImport(Lib, EntryPoint = "cuMemGetInfo_v2")]
    public static partial int cuMemGetInfo(nuint* free, nuint* total);
    [LibraryImport(Lib, EntryPoint = "cuMemAlloc_v2")]
    public static partial int cuMemAlloc(nint* devicePointer, nuint bytes);
    [LibraryImport(Lib, EntryPoint = "cuMemFree_v2")]
    public static partial int cuMemFree(nint devicePointer);
    [LibraryImport(Lib, EntryPoint = "cuMemAllocAsync")]
    public static partial int cuMemAllocAsync(nint* devicePointer, nuint bytes, nint stream);
    [LibraryImport(Lib, EntryPoint = "cuMemFreeAsync")]
    public static partial int cuMemFreeAsync(nint devicePointer, nint stream);
    [LibraryImport(Lib, EntryPoint = "cuMemAllocHost_v2")]
    public static partial int cuMemAllocHost(void** hostPointer, nuint bytes);
    [LibraryImport(Lib, EntryPoint = "cuMemFreeHost")]
    public static partial int cuMemFreeHost(void* hostPointer);
    [LibraryImport(Lib, EntryPoint = "cuMemcpyHtoD_v2")]
    public static partial int cuMemcpyHtoD(nint destination, void* source, nuint bytes);
    [LibraryImport(Lib, EntryPoint = "cuMemcpyDtoH_v2")]
    public static partial int cuMemcpyDtoH(void* destination, nint source, nuint bytes);
    [LibraryImport(Lib, EntryPoint = "cuMemcpyHtoDAsync_v2")]
    public static partial int cuMemcpyHtoDAsync(nint destination, void* source, nuint bytes, nint stream);
    [LibraryImport(Lib, EntryPoint = "cuMemcpyDtoHAsync_v2")]
    public static partial int cuMemcpyDtoHAsync(void* destination, nint source, nuint bytes, nint stream);
    [LibraryImport(Lib, EntryPoint = "cuMemcpyDtoDAsync_v2")]
    public static partial int cuMemcpyDtoDAsync(nint destination, nint source, nuint bytes, nint stream);
    [LibraryImport(Lib, EntryPoint = "cuMemsetD32Async")]
    public static partial int cuMemsetD32Async(nint destination, uint value, nuint count, nint stream);
    /// <summary>Sets <paramref name="height"/> rows of <paramref name="width"/> 32-bit words, rows <paramref name="pitch"/> bytes apart.</summary>
    [LibraryImport(Lib, EntryPoint = "cuMemsetD2D32Async")]
    public static partial int cuMemsetD2D32Async(nint destination, nuint pitch, uint value, nuint width, nuint height, nint stream);

    // ---- modules and launches ------------------------------------------------------------------
    [LibraryImport(Lib, EntryPoint = "cuModuleLoadData")]
    public static partial int cuModuleLoadData(nint* module, void* image);
    [LibraryImport(Lib, EntryPoint = "cuModuleGetFunction")]
    public static partial int cuModuleGetFunction(nint* function, nint module, byte* name);
    [LibraryImport(Lib, EntryPoint = "cuModuleUnload")]
    public static partial int cuModuleUnload(nint module);
    [LibraryImport(Lib, EntryPoint = "cuFuncSetAttribute")]
    public static partial int cuFuncSetAttribute(nint function, int attribute, int value);
    [LibraryImport(Lib, EntryPoint = "cuLaunchKernel")]
    public static partial int cuLaunchKernel(nint function, uint gridX, uint gridY, uint gridZ,
        uint blockX, uint blockY, uint blockZ, uint sharedMemBytes, nint stream, void** kernelParams, void** extra);

    // ---- streams and events ----------------------------------------------------------------------
    [LibraryImport(Lib, EntryPoint = "cuStreamCreate")]
    public static partial int cuStreamCreate(nint* stream, uint flags);
    [LibraryImport(Lib, EntryPoint = "cuStreamDestroy_v2")]
    public static partial int cuStreamDestroy(nint stream);
    [LibraryImport(Lib, EntryPoint = "cuStreamSynchronize")]
    public static partial int cuStreamSynchronize(nint stream);
    [LibraryImport(Lib, EntryPoint = "cuStreamWaitEvent")]
    public static partial int cuStreamWaitEvent(nint stream, nint @event, uint flags);
    [LibraryImport(Lib, EntryPoint = "cuEventCreate")]
    public static partial int cuEventCreate(nint* @event, uint flags);
    [LibraryImport(Lib, EntryPoint = "cuEventRecord")]
    public static partial int cuEventRecord(nint @event, nint stream);
    [LibraryImport(Lib, EntryPoint = "cuEventSynchronize")]
    public static partial int cuEventSynchronize(nint @event);
    [LibraryImport(Lib, EntryPoint = "cuEventElapsedTime")]
    public static partial int cuEventElapsedTime(float* milliseconds, nint start, nint end);
    [LibraryImport(Lib, EntryPoint = "cuEventDestroy_v2")]
    public static partial int cuEventDestroy(nint @event);

    // ---- errors ----------------------------------------------------------------------------------------
    [LibraryImport(Lib, EntryPoint = "cuGetErrorName")]
    public static partial int cuGetErrorName(int error, byte** name);
    [LibraryImport(Lib, EntryPoint = "cuGetErrorString")]
    public static partial int cuGetErrorString(int error, byte** description);

    /// <summary>"CUDA_ERROR_OUT_OF_MEMORY" for a CUresult (or the number when the driver does not know it).</summary>
    public static string ErrorName(int status)
    {
        byte* name = null;
        if (cuGetErrorName(status, &name) != Success || name == null) return $"CUresult {status}";
        return Marshal.PtrToStringUTF8((nint)name) ?? $"CUresult {status}";
    }

    /// <summary>Throws a <see cref="CudaException"/> naming <paramref name="call"/> unless status is CUDA_SUCCESS.</summary>
    public static void Check(int status, string call)
    {
        if (status != Success) throw new CudaException(call, status, ErrorName(status));
    }
}
