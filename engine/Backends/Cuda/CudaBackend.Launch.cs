using Vicreg.Engine.Backends.Cuda.Native;

namespace Vicreg.Engine.Backends.Cuda;

public sealed unsafe partial class CudaBackend
{
    /// <summary>Threads per block of every kernel (the .cu reductions assume a multiple of 32, at most 1024).</summary>
    internal const int BlockSize = 256;

    /// <summary>Blocks for a grid-stride loop over n items: enough to fill the device, never more than needed.</summary>
    private uint GridFor(long n)
    {
        long blocks = (n + BlockSize - 1) / BlockSize;
        long cap = (long)DeviceInfo.Multiprocessors * 32;
        return (uint)Math.Clamp(blocks, 1, Math.Max(cap, 1));
    }

    /// <summary>Queues a kernel on the compute stream. <paramref name="args"/> points at one pointer per
    /// kernel parameter, each to a local of exactly the parameter's type (built with stackalloc by the caller).</summary>
    private void Launch(CudaKernel kernel, uint grid, void** args)
    {
        if (grid == 0) return;
        MakeCurrent();
        nint f = _modules.Function(kernel);
        int status = CudaDriver.cuLaunchKernel(f, grid, 1, 1, BlockSize, 1, 1, 0, Stream, args, null);
        if (status != CudaDriver.Success)
            throw new CudaException($"cuLaunchKernel({CudaKernelCatalog.Entries[(int)kernel].Name})", status, CudaDriver.ErrorName(status));
        if (SynchronizeEveryLaunch)
        {
            // A fault inside the kernel surfaces here, named, instead of at whichever later call happens to wait.
            status = CudaDriver.cuStreamSynchronize(Stream);
            if (status != CudaDriver.Success)
                throw new CudaException($"kernel {CudaKernelCatalog.Entries[(int)kernel].Name} (VICREG_CUDA_SYNC=1: synchronised after launch)", status, CudaDriver.ErrorName(status));
        }
    }

    /// <summary>VICREG_CUDA_SYNC=1: wait for every kernel as it is launched, so a fault names its kernel (slow; for debugging).</summary>
    internal bool SynchronizeEveryLaunch { get; set; } = Environment.GetEnvironmentVariable("VICREG_CUDA_SYNC") == "1";

    /// <summary>A scratch buffer from the caching allocator, returned when disposed (stream order makes the
    /// immediate return safe: later users are queued after the kernels that use it now).</summary>
    private readonly ref struct Scratch
    {
        private readonly CudaBackend _owner;
        public readonly nint Pointer;
        private readonly long _bytes;

        public Scratch(CudaBackend owner, long bytes)
        {
            _owner = owner;
            _bytes = Math.Max(bytes, 4);
            Pointer = owner._allocator.Allocate(_bytes);
        }

        public void Dispose() => _owner._allocator.Free(Pointer, _bytes);
    }
}
