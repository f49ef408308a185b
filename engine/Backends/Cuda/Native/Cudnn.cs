using System.Runtime.InteropServices;

namespace Vicreg.Engine.Backends.Cuda.Native;

/// <summary>
/// cuDNN (libcudnn.so.9 / .so.8), checked against cudnn_ops.h, cudnn_cnn.h and cudnn_graph.h of cuDNN 9.x
/// (and cudnn_ops_infer.h / cudnn_cnn_infer.h / cudnn_cnn_train.h of 8.x, where the same signatures live).
/// Descriptors and the handle are pointers. Convolution, filter, batch-norm and pooling functions are
/// deprecated in cuDNN 9 but still exported; the backend probes them (<see cref="ConvolutionEntryPoints"/>)
/// and falls back to im2col + cuBLAS when they are gone. Every call returns a cudnnStatus_t (0 = SUCCESS).
/// </summary>
public static unsafe partial class Cudnn
{
    static Cudnn() => CudaLibraries.EnsureRegistered();
    private const string Lib = CudaLibraries.CudnnName;

    public const int TensorNchw = 0;          // cudnnTensorFormat_t CUDNN_TENSOR_NCHW
    public const int DataFloat = 0;           // cudnnDataType_t CUDNN_DATA_FLOAT
    public const int CrossCorrelation = 1;    // cudnnConvolutionMode_t CUDNN_CROSS_CORRELATION
    public const int DefaultMath = 0;         // cudnnMathType_t CUDNN_DEFAULT_MATH (TF32 allowed on Ampere+)
    public const int TensorOpMath = 1;        // CUDNN_TENSOR_OP_MATH
    public const int FmaMath = 3;             // CUDNN_FMA_MATH (no TF32)
    public const int BatchNormSpatial = 1;    // cudnnBatchNormMode_t CUDNN_BATCHNORM_SPATIAL
    public const int PoolingMax = 0;          // cudnnPoolingMode_t CUDNN_POOLING_MAX
    public const int NotPropagateNan = 0;     // cudnnNanPropagation_t CUDNN_NOT_PROPAGATE_NAN
    public const int Deterministic = 1;       // cudnnDeterminism_t CUDNN_DETERMINISTIC

    // cudnnStatus_t: cuDNN 9 (cudnn_graph.h) numbers each family by the thousand (BAD_PARAM 2000, NOT_SUPPORTED 3000,
    // INTERNAL_ERROR 4000 ...); cuDNN 8 (cudnn_ops_infer.h) used small numbers (ALLOC_FAILED 2, NOT_SUPPORTED 9).
    public const int StatusSublibraryLoadingFailed = 1008; // CUDNN_STATUS_SUBLIBRARY_LOADING_FAILED (9.2+)

    /// <summary>The algorithm cannot run this problem here (any CUDNN_STATUS_NOT_SUPPORTED_* of cuDNN 9, NOT_SUPPORTED of 8):
    /// the next candidate may.</summary>
    public static bool IsNotSupported(int status) => status == 9 || status / 1000 == 3;

    /// <summary>cuDNN could not allocate device memory (9: INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED 4004; 8: ALLOC_FAILED 2):
    /// worth one retry after the caching allocator returns its cache to the driver.</summary>
    public static bool IsAllocationFailure(int status) => status == 2 || status == 4004;

    /// <summary>cudnnConvolution{Fwd,BwdData,BwdFilter}AlgoPerf_t: the three share this 48-byte layout
    /// (algo, status, time, 4 bytes padding, memory, determinism, mathType, reserved[3], 4 bytes padding).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct AlgorithmPerformance
    {
        public int Algorithm;
        public int Status;
        public float Milliseconds;
        public nuint Memory;
        public int Determinism;
        public int MathType;
        public fixed int Reserved[3];
    }

    /// <summary>Symbols needed for anything: handle, stream, tensor descriptors, errors.</summary>
    public static readonly string[] CoreEntryPoints =
    [
        "cudnnGetVersion", "cudnnGetErrorString", "cudnnCreate", "cudnnDestroy", "cudnnSetStream",
        "cudnnCreateTensorDescriptor", "cudnnDestroyTensorDescriptor", "cudnnSetTensor4dDescriptor", "cudnnSetTensorNdDescriptor",
    ];

    /// <summary>Symbols the convolution path needs (deprecated in cuDNN 9: probed, with a fallback).</summary>
    public static readonly string[] ConvolutionEntryPoints =
    [
        "cudnnCreateFilterDescriptor", "cudnnDestroyFilterDescriptor", "cudnnSetFilter4dDescriptor",
        "cudnnCreateConvolutionDescriptor", "cudnnDestroyConvolutionDescriptor", "cudnnSetConvolution2dDescriptor",
        "cudnnSetConvolutionMathType", "cudnnSetConvolutionGroupCount",
        "cudnnGetConvolutionForwardAlgorithm_v7", "cudnnGetConvolutionBackwardDataAlgorithm_v7", "cudnnGetConvolutionBackwardFilterAlgorithm_v7",
        "cudnnFindConvolutionForwardAlgorithmEx", "cudnnFindConvolutionBackwardDataAlgorithmEx", "cudnnFindConvolutionBackwardFilterAlgorithmEx",
        "cudnnGetConvolutionForwardWorkspaceSize", "cudnnGetConvolutionBackwardDataWorkspaceSize", "cudnnGetConvolutionBackwardFilterWorkspaceSize",
        "cudnnConvolutionForward", "cudnnConvolutionBackwardData", "cudnnConvolutionBackwardFilter", "cudnnConvolutionBackwardBias",
    ];

    /// <summary>Batch norm and pooling (bound for completeness; the backend uses its own kernels for these).</summary>
    public static readonly string[] NormalizationEntryPoints =
    [
        "cudnnDeriveBNTensorDescriptor", "cudnnBatchNormalizationForwardTraining", "cudnnBatchNormalizationForwardInference",
        "cudnnBatchNormalizationBackward", "cudnnCreatePoolingDescriptor", "cudnnDestroyPoolingDescriptor",
        "cudnnSetPooling2dDescriptor", "cudnnPoolingForward", "cudnnPoolingBackward",
    ];

    public static IEnumerable<string> EntryPoints => CoreEntryPoints.Concat(ConvolutionEntryPoints).Concat(NormalizationEntryPoints);

    // ---- core (cudnn_graph.h in 9.x, cudnn_ops_infer.h in 8.x) --------------------------------------
    [LibraryImport(Lib, EntryPoint = "cudnnGetVersion")]
    public static partial nuint cudnnGetVersion();
    [LibraryImport(Lib, EntryPoint = "cudnnGetErrorString")]
    public static partial byte* cudnnGetErrorString(int status);
    [LibraryImport(Lib, EntryPoint = "cudnnCreate")]
    public static partial int cudnnCreate(nint* handle);
    [LibraryImport(Lib, EntryPoint = "cudnnDestroy")]
    public static partial int cudnnDestroy(nint handle);
    [LibraryImport(Lib, EntryPoint = "cudnnSetStream")]
    public static partial int cudnnSetStream(nint handle, nint stream);
    [LibraryImport(Lib, EntryPoint = "cudnnCreateTensorDescriptor")]
    public static partial int cudnnCreateTensorDescriptor(nint* descriptor);
    [LibraryImport(Lib, EntryPoint = "cudnnDestroyTensorDescriptor")]
    public static partial int cudnnDestroyTensorDescriptor(nint descriptor);
    [LibraryImport(Lib, EntryPoint = "cudnnSetTensor4dDescriptor")]
    public static partial int cudnnSetTensor4dDescriptor(nint descriptor, int format, int dataType, int n, int c, int h, int w);
    [LibraryImport(Lib, EntryPoint = "cudnnSetTensorNdDescriptor")]
    public static partial int cudnnSetTensorNdDescriptor(nint descriptor, int dataType, int dimensionCount, int* dimensions, int* strides);

    // ---- convolution (cudnn_cnn.h) ------------------------------------------------------------------------
    [LibraryImport(Lib, EntryPoint = "cudnnCreateFilterDescriptor")]
    public static partial int cudnnCreateFilterDescriptor(nint* descriptor);
    [LibraryImport(Lib, EntryPoint = "cudnnDestroyFilterDescriptor")]
    public static partial int cudnnDestroyFilterDescriptor(nint descriptor);
    [LibraryImport(Lib, EntryPoint = "cudnnSetFilter4dDescriptor")]
    public static partial int cudnnSetFilter4dDescriptor(nint descriptor, int dataType, int format, int k, int c, int h, int w);
    [LibraryImport(Lib, EntryPoint = "cudnnCreateConvolutionDescriptor")]
    public static partial int cudnnCreateConvolutionDescriptor(nint* descriptor);
    [LibraryImport(Lib, EntryPoint = "cudnnDestroyConvolutionDescriptor")]
    public static partial int cudnnDestroyConvolutionDescriptor(nint descriptor);
    [LibraryImport(Lib, EntryPoint = "cudnnSetConvolution2dDescriptor")]
    public static partial int cudnnSetConvolution2dDescriptor(nint descriptor, int padH, int padW, int strideH, int strideW,
        int dilationH, int dilationW, int mode, int computeType);
    [LibraryImport(Lib, EntryPoint = "cudnnSetConvolutionMathType")]
    public static partial int cudnnSetConvolutionMathType(nint descriptor, int mathType);
    [LibraryImport(Lib, EntryPoint = "cudnnSetConvolutionGroupCount")]
    public static partial int cudnnSetConvolutionGroupCount(nint descriptor, int groupCount);

    [LibraryImport(Lib, EntryPoint = "cudnnGetConvolutionForwardAlgorithm_v7")]
    public static partial int cudnnGetConvolutionForwardAlgorithm_v7(nint handle, nint xDesc, nint wDesc, nint convDesc, nint yDesc,
        int requested, int* returned, AlgorithmPerformance* results);
    [LibraryImport(Lib, EntryPoint = "cudnnGetConvolutionBackwardDataAlgorithm_v7")]
    public static partial int cudnnGetConvolutionBackwardDataAlgorithm_v7(nint handle, nint wDesc, nint dyDesc, nint convDesc, nint dxDesc,
        int requested, int* returned, AlgorithmPerformance* results);
    [LibraryImport(Lib, EntryPoint = "cudnnGetConvolutionBackwardFilterAlgorithm_v7")]
    public static partial int cudnnGetConvolutionBackwardFilterAlgorithm_v7(nint handle, nint xDesc, nint dyDesc, nint convDesc, nint dwDesc,
        int requested, int* returned, AlgorithmPerformance* results);

    [LibraryImport(Lib, EntryPoint = "cudnnFindConvolutionForwardAlgorithmEx")]
    public static partial int cudnnFindConvolutionForwardAlgorithmEx(nint handle, nint xDesc, nint x, nint wDesc, nint w, nint convDesc,
        nint yDesc, nint y, int requested, int* returned, AlgorithmPerformance* results, nint workspace, nuint workspaceBytes);
    [LibraryImport(Lib, EntryPoint = "cudnnFindConvolutionBackwardDataAlgorithmEx")]
    public static partial int cudnnFindConvolutionBackwardDataAlgorithmEx(nint handle, nint wDesc, nint w, nint dyDesc, nint dy, nint convDesc,
        nint dxDesc, nint dx, int requested, int* returned, AlgorithmPerformance* results, nint workspace, nuint workspaceBytes);
    [LibraryImport(Lib, EntryPoint = "cudnnFindConvolutionBackwardFilterAlgorithmEx")]
    public static partial int cudnnFindConvolutionBackwardFilterAlgorithmEx(nint handle, nint xDesc, nint x, nint dyDesc, nint dy, nint convDesc,
        nint dwDesc, nint dw, int requested, int* returned, AlgorithmPerformance* results, nint workspace, nuint workspaceBytes);

    [LibraryImport(Lib, EntryPoint = "cudnnGetConvolutionForwardWorkspaceSize")]
    public static partial int cudnnGetConvolutionForwardWorkspaceSize(nint handle, nint xDesc, nint wDesc, nint convDesc, nint yDesc, int algorithm, nuint* bytes);
    [LibraryImport(Lib, EntryPoint = "cudnnGetConvolutionBackwardDataWorkspaceSize")]
    public static partial int cudnnGetConvolutionBackwardDataWorkspaceSize(nint handle, nint wDesc, nint dyDesc, nint convDesc, nint dxDesc, int algorithm, nuint* bytes);
    [LibraryImport(Lib, EntryPoint = "cudnnGetConvolutionBackwardFilterWorkspaceSize")]
    public static partial int cudnnGetConvolutionBackwardFilterWorkspaceSize(nint handle, nint xDesc, nint dyDesc, nint convDesc, nint dwDesc, int algorithm, nuint* bytes);

    [LibraryImport(Lib, EntryPoint = "cudnnConvolutionForward")]
    public static partial int cudnnConvolutionForward(nint handle, float* alpha, nint xDesc, nint x, nint wDesc, nint w, nint convDesc,
        int algorithm, nint workspace, nuint workspaceBytes, float* beta, nint yDesc, nint y);
    [LibraryImport(Lib, EntryPoint = "cudnnConvolutionBackwardData")]
    public static partial int cudnnConvolutionBackwardData(nint handle, float* alpha, nint wDesc, nint w, nint dyDesc, nint dy, nint convDesc,
        int algorithm, nint workspace, nuint workspaceBytes, float* beta, nint dxDesc, nint dx);
    [LibraryImport(Lib, EntryPoint = "cudnnConvolutionBackwardFilter")]
    public static partial int cudnnConvolutionBackwardFilter(nint handle, float* alpha, nint xDesc, nint x, nint dyDesc, nint dy, nint convDesc,
        int algorithm, nint workspace, nuint workspaceBytes, float* beta, nint dwDesc, nint dw);
    [LibraryImport(Lib, EntryPoint = "cudnnConvolutionBackwardBias")]
    public static partial int cudnnConvolutionBackwardBias(nint handle, float* alpha, nint dyDesc, nint dy, float* beta, nint dbDesc, nint db);

    // ---- batch normalization and pooling (cudnn_ops.h) ---------------------------------------------------
    [LibraryImport(Lib, EntryPoint = "cudnnDeriveBNTensorDescriptor")]
    public static partial int cudnnDeriveBNTensorDescriptor(nint derivedDesc, nint xDesc, int mode);
    [LibraryImport(Lib, EntryPoint = "cudnnBatchNormalizationForwardTraining")]
    public static partial int cudnnBatchNormalizationForwardTraining(nint handle, int mode, float* alpha, float* beta, nint xDesc, nint x,
        nint yDesc, nint y, nint bnDesc, nint scale, nint bias, double exponentialAverageFactor, nint runningMean, nint runningVariance,
        double epsilon, nint saveMean, nint saveInvVariance);
    [LibraryImport(Lib, EntryPoint = "cudnnBatchNormalizationForwardInference")]
    public static partial int cudnnBatchNormalizationForwardInference(nint handle, int mode, float* alpha, float* beta, nint xDesc, nint x,
        nint yDesc, nint y, nint bnDesc, nint scale, nint bias, nint estimatedMean, nint estimatedVariance, double epsilon);
    [LibraryImport(Lib, EntryPoint = "cudnnBatchNormalizationBackward")]
    public static partial int cudnnBatchNormalizationBackward(nint handle, int mode, float* alphaData, float* betaData, float* alphaParam,
        float* betaParam, nint xDesc, nint x, nint dyDesc, nint dy, nint dxDesc, nint dx, nint bnDesc, nint scale, nint dScale, nint dBias,
        double epsilon, nint savedMean, nint savedInvVariance);
    [LibraryImport(Lib, EntryPoint = "cudnnCreatePoolingDescriptor")]
    public static partial int cudnnCreatePoolingDescriptor(nint* descriptor);
    [LibraryImport(Lib, EntryPoint = "cudnnDestroyPoolingDescriptor")]
    public static partial int cudnnDestroyPoolingDescriptor(nint descriptor);
    [LibraryImport(Lib, EntryPoint = "cudnnSetPooling2dDescriptor")]
    public static partial int cudnnSetPooling2dDescriptor(nint descriptor, int mode, int nanPropagation, int windowH, int windowW,
        int padH, int padW, int strideH, int strideW);
    [LibraryImport(Lib, EntryPoint = "cudnnPoolingForward")]
    public static partial int cudnnPoolingForward(nint handle, nint poolingDesc, float* alpha, nint xDesc, nint x, float* beta, nint yDesc, nint y);
    [LibraryImport(Lib, EntryPoint = "cudnnPoolingBackward")]
    public static partial int cudnnPoolingBackward(nint handle, nint poolingDesc, float* alpha, nint yDesc, nint y, nint dyDesc, nint dy,
        nint xDesc, nint x, float* beta, nint dxDesc, nint dx);

    public static string ErrorName(int status)
    {
        byte* s = cudnnGetErrorString(status);
        return s == null ? $"cudnnStatus_t {status}" : Marshal.PtrToStringUTF8((nint)s) ?? $"cudnnStatus_t {status}";
    }

    public static void Check(int status, string call)
    {
        if (status != 0) throw new CudaException(call, status, ErrorName(status));
    }

    /// <summary>"9.1.0" from cudnnGetVersion (major*10000 + minor*100 + patch from 9.0; major*1000 + minor*100 + patch before).</summary>
    public static string? VersionText()
    {
        if (!CudaLibraries.TryLoad(CudaLibrary.Cudnn, out _)) return null;
        long v = (long)cudnnGetVersion();
        return v >= 90000 ? $"{v / 10000}.{v / 100 % 100}.{v % 100}" : $"{v / 1000}.{v / 100 % 10}.{v % 100}";
    }
}
