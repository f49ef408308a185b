namespace Vicreg.Engine.Backends.Cuda.Native;

/// <summary>The NVIDIA libraries the CUDA backend binds, each known under several file names
/// (one per major version and operating system).</summary>
public enum CudaLibrary
{
    Driver,
    Nvrtc,
    Cublas,
    Cudnn,
    Nccl,
}
