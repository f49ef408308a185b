using System.Runtime.InteropServices;

namespace Vicreg.Engine.Backends.Cuda.Native;

/// <summary>
/// cuBLAS (libcublas.so.12 / .so.11), checked against cublas_api.h of CUDA 12.x. Column-major; alpha
/// and beta are host pointers (the default pointer mode). cublas_v2.h #defines cublasCreate,
/// cublasSgemm … to their _v2 symbols, which are bound here by name. A cudaStream_t is the same handle
/// as the driver's CUstream. Every call returns a cublasStatus_t (0 = CUBLAS_STATUS_SUCCESS).
/// </summary>
public static unsafe partial class Cublas
{
    static Cublas() => CudaLibraries.EnsureRegistered();
    private const string Lib = CudaLibraries.CublasName;

    public const int StatusAllocFailed = 3;   // cublasStatus_t CUBLAS_STATUS_ALLOC_FAILED
    public const int OpN = 0;
    public const int OpT = 1;
    /// <summary>cublasMath_t CUBLAS_DEFAULT_MATH (no TF32 for float GEMM).</summary>
    public const int DefaultMath = 0;
    /// <summary>cublasMath_t CUBLAS_TF32_TENSOR_OP_MATH.</summary>
    public const int Tf32TensorOpMath = 3;
    /// <summary>cudaDataType CUDA_R_32F.</summary>
    public const int DataTypeFloat32 = 0;
    /// <summary>cublasComputeType_t CUBLAS_COMPUTE_32F and CUBLAS_COMPUTE_32F_FAST_TF32.</summary>
    public const int Compute32F = 68;
    public const int Compute32FFastTf32 = 77;
    /// <summary>cublasGemmAlgo_t CUBLAS_GEMM_DEFAULT.</summary>
    public const int GemmDefault = -1;
    /// <summary>libraryPropertyType MAJOR_VERSION, MINOR_VERSION, PATCH_LEVEL.</summary>
    public const int PropertyMajor = 0, PropertyMinor = 1, PropertyPatch = 2;

    public static readonly string[] EntryPoints =
    [
        "cublasCreate_v2", "cublasDestroy_v2", "cublasSetStream_v2", "cublasSetMathMode", "cublasSetWorkspace_v2",
        "cublasGetProperty", "cublasSgemm_v2", "cublasSgemmStridedBatched", "cublasGemmEx",
    ];

    [LibraryImport(Lib, EntryPoint = "cublasCreate_v2")]
    public static partial int cublasCreate(nint* handle);
    [LibraryImport(Lib, EntryPoint = "cublasDestroy_v2")]
    public static partial int cublasDestroy(nint handle);
    [LibraryImport(Lib, EntryPoint = "cublasSetStream_v2")]
    public static partial int cublasSetStream(nint handle, nint stream);
    [LibraryImport(Lib, EntryPoint = "cublasSetMathMode")]
    public static partial int cublasSetMathMode(nint handle, int mode);
    [LibraryImport(Lib, EntryPoint = "cublasSetWorkspace_v2")]
    public static partial int cublasSetWorkspace(nint handle, nint workspace, nuint bytes);
    [LibraryImport(Lib, EntryPoint = "cublasGetProperty")]
    public static partial int cublasGetProperty(int property, int* value);
    [LibraryImport(Lib, EntryPoint = "cublasSgemm_v2")]
    public static partial int cublasSgemm(nint handle, int transA, int transB, int m, int n, int k,
        float* alpha, nint a, int lda, nint b, int ldb, float* beta, nint c, int ldc);
    [LibraryImport(Lib, EntryPoint = "cublasSgemmStridedBatched")]
    public static partial int cublasSgemmStridedBatched(nint handle, int transA, int transB, int m, int n, int k,
        float* alpha, nint a, int lda, long strideA, nint b, int ldb, long strideB, float* beta, nint c, int ldc, long strideC, int batchCount);
    [LibraryImport(Lib, EntryPoint = "cublasGemmEx")]
    public static partial int cublasGemmEx(nint handle, int transA, int transB, int m, int n, int k,
        void* alpha, nint a, int aType, int lda, nint b, int bType, int ldb, void* beta, nint c, int cType, int ldc,
        int computeType, int algorithm);

    /// <summary>The cublasStatus_t names (cublas_api.h); cublasGetStatusName only exists from CUDA 11.4.2.</summary>
    public static string ErrorName(int status) => status switch
    {
        0 => "CUBLAS_STATUS_SUCCESS",
        1 => "CUBLAS_STATUS_NOT_INITIALIZED",
        3 => "CUBLAS_STATUS_ALLOC_FAILED",
        7 => "CUBLAS_STATUS_INVALID_VALUE",
        8 => "CUBLAS_STATUS_ARCH_MISMATCH",
        11 => "CUBLAS_STATUS_MAPPING_ERROR",
        13 => "CUBLAS_STATUS_EXECUTION_FAILED",
        14 => "CUBLAS_STATUS_INTERNAL_ERROR",
        15 => "CUBLAS_STATUS_NOT_SUPPORTED",
        16 => "CUBLAS_STATUS_LICENSE_ERROR",
        _ => $"cublasStatus_t {status}",
    };

    public static void Check(int status, string call)
    {
        if (status != 0) throw new CudaException(call, status, ErrorName(status));
    }

    /// <summary>"12.4.5", or null when the library is absent.</summary>
    public static string? VersionText()
    {
        if (!CudaLibraries.TryLoad(CudaLibrary.Cublas, out _)) return null;
        int major, minor, patch;
        if (cublasGetProperty(PropertyMajor, &major) != 0 || cublasGetProperty(PropertyMinor, &minor) != 0 ||
            cublasGetProperty(PropertyPatch, &patch) != 0) return "unknown version";
        return $"{major}.{minor}.{patch}";
    }
}
