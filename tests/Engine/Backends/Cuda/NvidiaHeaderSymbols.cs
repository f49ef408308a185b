namespace Vicreg.Tests.Engine.Backends.Cuda;

/// <summary>
/// Function names as NVIDIA's headers declare them (after their #define renames), written out by hand from
/// the header text so that a typo or a legacy un-suffixed name in our bindings cannot pass. Only the subset
/// near what we bind is listed. Versions: cuda.h of CUDA 12.4, nvrtc.h of CUDA 11.8/12.4, cublas_api.h of
/// CUDA 12.4, cudnn_graph.h + cudnn_ops.h + cudnn_cnn.h of cuDNN 9.1 (the same names sit in cuDNN 8.9's
/// cudnn_ops_infer.h / cudnn_ops_train.h / cudnn_cnn_infer.h / cudnn_cnn_train.h), nccl.h of NCCL 2.21.
/// </summary>
internal static class NvidiaHeaderSymbols
{
    public const string CudaHeader = "cuda.h (CUDA 12.4)";
    public static readonly string[] Cuda =
    [
        "cuInit", "cuDriverGetVersion", "cuDeviceGet", "cuDeviceGetCount", "cuDeviceGetName", "cuDeviceGetUuid_v2",
        "cuDeviceTotalMem_v2", "cuDeviceGetAttribute", "cuDevicePrimaryCtxRetain", "cuDevicePrimaryCtxRelease_v2",
        "cuDevicePrimaryCtxReset_v2", "cuDevicePrimaryCtxSetFlags_v2", "cuDevicePrimaryCtxGetState", "cuCtxCreate_v2", "cuCtxDestroy_v2", "cuCtxSetCurrent",
        "cuCtxGetCurrent", "cuCtxSynchronize", "cuMemGetInfo_v2", "cuMemAlloc_v2", "cuMemFree_v2", "cuMemAllocAsync",
        "cuMemFreeAsync", "cuMemAllocHost_v2", "cuMemFreeHost", "cuMemHostAlloc", "cuMemcpyHtoD_v2", "cuMemcpyDtoH_v2",
        "cuMemcpyDtoD_v2", "cuMemcpyHtoDAsync_v2", "cuMemcpyDtoHAsync_v2", "cuMemcpyDtoDAsync_v2", "cuMemsetD32_v2",
        "cuMemsetD32Async", "cuMemsetD8Async", "cuMemsetD2D32Async", "cuModuleLoadData", "cuModuleLoadDataEx", "cuModuleLoadFatBinary",
        "cuModuleGetFunction", "cuModuleUnload", "cuFuncSetAttribute", "cuFuncGetAttribute", "cuLaunchKernel",
        "cuStreamCreate", "cuStreamCreateWithPriority", "cuStreamDestroy_v2", "cuStreamSynchronize", "cuStreamQuery",
        "cuStreamWaitEvent", "cuEventCreate", "cuEventRecord", "cuEventQuery", "cuEventSynchronize", "cuEventElapsedTime",
        "cuEventDestroy_v2", "cuGetErrorName", "cuGetErrorString",
    ];

    /// <summary>Names cuda.h / cublas_v2.h #define to a suffixed symbol: binding them would call the legacy
    /// (32-bit size) entry point that the library still exports for old binaries.</summary>
    public static readonly string[] Renamed =
    [
        "cuDeviceTotalMem", "cuDevicePrimaryCtxRelease", "cuDevicePrimaryCtxSetFlags", "cuMemGetInfo", "cuMemAlloc", "cuMemFree", "cuMemAllocHost",
        "cuMemcpyHtoD", "cuMemcpyDtoH", "cuMemcpyHtoDAsync", "cuMemcpyDtoHAsync", "cuMemcpyDtoDAsync", "cuStreamDestroy",
        "cuEventDestroy", "cuCtxCreate", "cuCtxDestroy",
        "cublasCreate", "cublasDestroy", "cublasSetStream", "cublasSgemm", "cublasSetWorkspace", "cublasGetVersion",
    ];

    public const string NvrtcHeader = "nvrtc.h (CUDA 11.8 and 12.4)";
    public static readonly string[] Nvrtc =
    [
        "nvrtcVersion", "nvrtcGetErrorString", "nvrtcGetNumSupportedArchs", "nvrtcGetSupportedArchs", "nvrtcCreateProgram",
        "nvrtcDestroyProgram", "nvrtcCompileProgram", "nvrtcGetPTXSize", "nvrtcGetPTX", "nvrtcGetCUBINSize", "nvrtcGetCUBIN",
        "nvrtcGetProgramLogSize", "nvrtcGetProgramLog", "nvrtcAddNameExpression", "nvrtcGetLoweredName",
    ];

    public const string CublasHeader = "cublas_api.h (CUDA 12.4)";
    public static readonly string[] Cublas =
    [
        "cublasCreate_v2", "cublasDestroy_v2", "cublasGetVersion_v2", "cublasGetProperty", "cublasSetStream_v2",
        "cublasGetStream_v2", "cublasSetWorkspace_v2", "cublasSetMathMode", "cublasGetMathMode", "cublasSetPointerMode_v2",
        "cublasSgemm_v2", "cublasSgemmStridedBatched", "cublasSgemmBatched", "cublasGemmEx", "cublasGemmStridedBatchedEx",
        "cublasGetStatusName", "cublasGetStatusString",
    ];

    public const string CudnnHeader = "cudnn_graph.h, cudnn_ops.h, cudnn_cnn.h (cuDNN 9.1)";
    public static readonly string[] Cudnn =
    [
        "cudnnGetVersion", "cudnnGetErrorString", "cudnnCreate", "cudnnDestroy", "cudnnSetStream", "cudnnGetStream",
        "cudnnCreateTensorDescriptor", "cudnnDestroyTensorDescriptor", "cudnnSetTensor4dDescriptor", "cudnnSetTensor4dDescriptorEx",
        "cudnnSetTensorNdDescriptor", "cudnnCreateFilterDescriptor", "cudnnDestroyFilterDescriptor", "cudnnSetFilter4dDescriptor",
        "cudnnCreateConvolutionDescriptor", "cudnnDestroyConvolutionDescriptor", "cudnnSetConvolution2dDescriptor",
        "cudnnSetConvolutionMathType", "cudnnSetConvolutionGroupCount", "cudnnGetConvolution2dForwardOutputDim",
        "cudnnGetConvolutionForwardAlgorithmMaxCount", "cudnnGetConvolutionForwardAlgorithm_v7", "cudnnFindConvolutionForwardAlgorithm",
        "cudnnFindConvolutionForwardAlgorithmEx", "cudnnGetConvolutionForwardWorkspaceSize", "cudnnConvolutionForward",
        "cudnnGetConvolutionBackwardDataAlgorithmMaxCount", "cudnnGetConvolutionBackwardDataAlgorithm_v7",
        "cudnnFindConvolutionBackwardDataAlgorithmEx", "cudnnGetConvolutionBackwardDataWorkspaceSize", "cudnnConvolutionBackwardData",
        "cudnnGetConvolutionBackwardFilterAlgorithmMaxCount", "cudnnGetConvolutionBackwardFilterAlgorithm_v7",
        "cudnnFindConvolutionBackwardFilterAlgorithmEx", "cudnnGetConvolutionBackwardFilterWorkspaceSize", "cudnnConvolutionBackwardFilter",
        "cudnnConvolutionBackwardBias", "cudnnDeriveBNTensorDescriptor", "cudnnBatchNormalizationForwardTraining",
        "cudnnBatchNormalizationForwardInference", "cudnnBatchNormalizationBackward", "cudnnCreatePoolingDescriptor",
        "cudnnDestroyPoolingDescriptor", "cudnnSetPooling2dDescriptor", "cudnnPoolingForward", "cudnnPoolingBackward",
    ];

    public const string NcclHeader = "nccl.h (NCCL 2.21)";
    public static readonly string[] Nccl =
    [
        "ncclGetVersion", "ncclGetUniqueId", "ncclCommInitRank", "ncclCommInitAll", "ncclCommDestroy", "ncclCommAbort",
        "ncclCommGetAsyncError", "ncclCommCount", "ncclCommCuDevice", "ncclCommUserRank", "ncclGetErrorString",
        "ncclGetLastError", "ncclAllReduce", "ncclAllGather", "ncclReduceScatter", "ncclBroadcast", "ncclReduce",
        "ncclSend", "ncclRecv", "ncclGroupStart", "ncclGroupEnd",
    ];
}
