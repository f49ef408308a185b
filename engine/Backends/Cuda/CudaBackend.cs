using Vicreg.Engine.Backends.Cuda.Native;
using Vicreg.Tools.CudaKernelGenerator;

namespace Vicreg.Engine.Backends.Cuda;

/// <summary>
/// Kernels on one NVIDIA GPU: cuBLAS for GEMM (full float32 unless TF32 is asked for), cuDNN for
/// convolutions (im2col + cuBLAS when cuDNN's convolution symbols are absent), and our own NVRTC-compiled
/// kernels for everything else. Float32 and Int32 tensors only. All work is queued on one compute stream
/// in call order; a second stream carries pinned uploads (<see cref="BeginUpload"/>). Driven from one
/// thread at a time; any thread may drive it (the context is made current on entry).
/// The kernel families live in the partial files beside this one; each kernel's launcher (Launch&lt;Kernel&gt;) is generated
/// from its .cu signature (tools/CudaKernelGenerator), with the op enums the kernels switch on.
/// </summary>
[CudaKernelLaunchers(typeof(UnaryOp), typeof(BinaryOp))]
public sealed unsafe partial class CudaBackend : IBackend
{
    public CudaDeviceInfo DeviceInfo { get; }
    /// <summary>TF32 tensor-core math for cuDNN convolutions: on by default, as PyTorch's torch.backends.cudnn.allow_tf32
    /// (True). Off (--no-tf32) keeps convolutions in full float32 (CUDNN_FMA_MATH).</summary>
    public bool AllowTf32 { get; }
    /// <summary>TF32 tensor-core math for cuBLAS GEMM: off by default, as PyTorch's torch.backends.cuda.matmul.allow_tf32
    /// (False since 1.12). GEMMs carry the VICReg covariance and the expander, whose error budget assumes float32.</summary>
    public bool Tf32Gemm { get; }
    /// <summary>True when convolutions go through cuDNN (false: im2col + cuBLAS).</summary>
    public bool UsesCudnnConvolution => _cudnn != 0 && !ForceIm2ColConvolution;
    /// <summary>Deterministic cuDNN algorithms only, chosen by heuristics, never by timing (--deterministic). Our own
    /// kernels are deterministic anyway (fixed reduction order, no atomics).</summary>
    public bool Deterministic { get; }
    /// <summary>Runs convolutions through the im2col + cuBLAS fallback even when cuDNN is present (tests).</summary>
    internal bool ForceIm2ColConvolution { get; set; }

    private readonly int _device;
    private nint _context;
    internal nint Stream;
    private nint _copyStream;
    private nint _cublas;
    private nint _cudnn;
    private readonly bool _benchmarkConvolutions;
    private readonly CudaDeviceAllocator _allocator;
    private readonly CudaModules _modules;
    private bool _disposed;

    [ThreadStatic] private static nint t_currentContext;

    /// <param name="ordinal">Device number as the driver counts them.</param>
    /// <param name="allowTf32">TF32 for convolutions (PyTorch's cuDNN default); false keeps them in full float32 (--no-tf32).</param>
    /// <param name="benchmarkConvolutions">Time cuDNN's algorithms once per shape (FindEx) instead of taking its heuristic order (_v7).</param>
    /// <param name="deterministic">Deterministic cuDNN algorithms only, never chosen by timing.</param>
    /// <param name="tf32Gemm">TF32 for GEMM too (off by default, as PyTorch's matmul default).</param>
    public CudaBackend(int ordinal = 0, bool allowTf32 = true, bool benchmarkConvolutions = false, bool deterministic = false, bool tf32Gemm = false)
    {
        CudaLibraries.RequireExports(CudaLibrary.Driver, CudaDriver.EntryPoints);
        CudaLibraries.RequireExports(CudaLibrary.Nvrtc, Nvrtc.EntryPoints);
        CudaLibraries.RequireExports(CudaLibrary.Cublas, Cublas.EntryPoints);
        AllowTf32 = allowTf32;
        Tf32Gemm = tf32Gemm;
        _benchmarkConvolutions = benchmarkConvolutions;
        Deterministic = deterministic;
        _allocator = new CudaDeviceAllocator(this);
        try
        {
            CudaDriver.Check(CudaDriver.cuInit(0), "cuInit");
            DeviceInfo = CudaProbe.Describe(ordinal);
            int device;
            CudaDriver.Check(CudaDriver.cuDeviceGet(&device, ordinal), "cuDeviceGet");
            _device = device;
            // Waits sleep rather than spin: a spinning wait takes a CPU core the data loader needs.
            int flagsStatus = CudaDriver.cuDevicePrimaryCtxSetFlags(device, CudaDriver.ContextBlockingSync);
            if (flagsStatus != CudaDriver.ErrorPrimaryContextActive) CudaDriver.Check(flagsStatus, "cuDevicePrimaryCtxSetFlags_v2");
            nint context;
            CudaDriver.Check(CudaDriver.cuDevicePrimaryCtxRetain(&context, device), "cuDevicePrimaryCtxRetain");
            _context = context;
            MakeCurrent();
            nint stream;
            CudaDriver.Check(CudaDriver.cuStreamCreate(&stream, CudaDriver.StreamNonBlocking), "cuStreamCreate");
            Stream = stream;
            CudaDriver.Check(CudaDriver.cuStreamCreate(&stream, CudaDriver.StreamNonBlocking), "cuStreamCreate");
            _copyStream = stream;

            // cuBLAS and cuDNN use the runtime API, which adopts the current (primary) context.
            nint handle;
            Cublas.Check(Cublas.cublasCreate(&handle), "cublasCreate_v2");
            _cublas = handle;
            Cublas.Check(Cublas.cublasSetStream(_cublas, Stream), "cublasSetStream_v2");
            Cublas.Check(Cublas.cublasSetMathMode(_cublas, tf32Gemm ? Cublas.Tf32TensorOpMath : Cublas.DefaultMath), "cublasSetMathMode");

            _modules = new CudaModules(DeviceInfo.Architecture);
            _modules.LoadAll();
            StartCudnn(); // never throws: a cuDNN that fails its start-up convolutions leaves im2col + cuBLAS
        }
        catch
        {
            _modules ??= new CudaModules(0);
            DeviceInfo ??= new CudaDeviceInfo(ordinal, "?", 0, 0, 1, 0);
            Dispose();
            throw;
        }
    }

    public string Name => $"cuda:{DeviceInfo.Ordinal}";
    /// <summary>"NVIDIA A100-SXM4-40GB (sm_80, 108 SMs, 40.0 GiB)".</summary>
    public string Description =>
        $"{DeviceInfo.Name} (sm_{DeviceInfo.Architecture}, {DeviceInfo.Multiprocessors} SMs, {CudaDeviceAllocator.Bytes(DeviceInfo.TotalBytes)})";
    public bool IsHostMemory => false;
    public bool Supports(DType dtype) => dtype is DType.Float32 or DType.Int32;

    /// <summary>Makes this backend's context current on the calling thread (cheap when it already is).</summary>
    internal void MakeCurrent()
    {
        if (t_currentContext == _context) return;
        CudaDriver.Check(CudaDriver.cuCtxSetCurrent(_context), "cuCtxSetCurrent");
        t_currentContext = _context;
    }

    // ---- memory ---------------------------------------------------------------------------------------
    public nint Allocate(long bytes) => _allocator.Allocate(bytes);
    public void Free(nint pointer, long bytes) => _allocator.Free(pointer, bytes);
    public AllocatorStatistics MemoryStatistics => _allocator.Statistics;

    /// <summary>(free, total) device memory as the driver reports it.</summary>
    public (long Free, long Total) DeviceMemory()
    {
        MakeCurrent();
        nuint free, total;
        CudaDriver.Check(CudaDriver.cuMemGetInfo(&free, &total), "cuMemGetInfo_v2");
        return ((long)free, (long)total);
    }

    public void CopyFromHost(ReadOnlySpan<byte> source, Tensor destination)
    {
        KernelChecks.CopyFromHost(source.Length, destination);
        Own(destination, nameof(CopyFromHost));
        if (source.Length == 0) return;
        MakeCurrent();
        // Pageable memory: the async copy is staged by the driver; the stream sync makes the call synchronous
        // and ordered after every kernel queued before it.
        fixed (byte* s = source)
        {
            CudaDriver.Check(CudaDriver.cuMemcpyHtoDAsync(destination.Data, s, (nuint)source.Length, Stream), "cuMemcpyHtoDAsync_v2");
            CudaDriver.Check(CudaDriver.cuStreamSynchronize(Stream), "cuStreamSynchronize");
        }
    }

    public void CopyToHost(Tensor source, Span<byte> destination)
    {
        KernelChecks.CopyToHost(source, destination.Length);
        Own(source, nameof(CopyToHost));
        if (destination.Length == 0) return;
        MakeCurrent();
        fixed (byte* d = destination)
        {
            CudaDriver.Check(CudaDriver.cuMemcpyDtoHAsync(d, source.Data, (nuint)destination.Length, Stream), "cuMemcpyDtoHAsync_v2");
            CudaDriver.Check(CudaDriver.cuStreamSynchronize(Stream), "cuStreamSynchronize");
        }
    }

    public void Copy(Tensor source, long sourceOffset, Tensor destination, long destinationOffset, long count)
    {
        KernelChecks.Copy(source, sourceOffset, destination, destinationOffset, count);
        Own(source, nameof(Copy));
        Own(destination, nameof(Copy));
        if (count <= 0) return;
        int size = source.DType.SizeInBytes();
        MakeCurrent();
        CudaDriver.Check(CudaDriver.cuMemcpyDtoDAsync(destination.Data + (nint)(destinationOffset * size), source.Data + (nint)(sourceOffset * size),
            (nuint)(count * size), Stream), "cuMemcpyDtoDAsync_v2");
    }

    public void Fill(Tensor tensor, double value)
    {
        Own(tensor, nameof(Fill));
        if (tensor.Numel == 0) return;
        uint bits = tensor.DType == DType.Float32 ? BitConverter.SingleToUInt32Bits((float)value) : unchecked((uint)(int)value);
        MakeCurrent();
        CudaDriver.Check(CudaDriver.cuMemsetD32Async(tensor.Data, bits, (nuint)tensor.Numel, Stream), "cuMemsetD32Async");
    }

    public void FillDiagonal(Tensor matrix, double value)
    {
        KernelChecks.FillDiagonal(matrix);
        Own(matrix, nameof(FillDiagonal));
        int d = matrix.Shape[0];
        if (d == 0) return;
        uint bits = matrix.DType == DType.Float32 ? BitConverter.SingleToUInt32Bits((float)value) : unchecked((uint)(int)value);
        MakeCurrent();
        // A 2-D memset of d rows one element wide whose pitch is a row plus one element: the diagonal.
        nuint pitch = (nuint)((long)(d + 1) * sizeof(uint));
        CudaDriver.Check(CudaDriver.cuMemsetD2D32Async(matrix.Data, pitch, bits, 1, (nuint)d, Stream), "cuMemsetD2D32Async");
    }

    public void Synchronize()
    {
        MakeCurrent();
        CudaDriver.Check(CudaDriver.cuStreamSynchronize(_copyStream), "cuStreamSynchronize");
        CudaDriver.Check(CudaDriver.cuStreamSynchronize(Stream), "cuStreamSynchronize");
    }

    /// <summary>The primary context's flags as the driver reports them (CU_CTX_SCHED_*), for tests and diagnostics.</summary>
    internal uint ContextFlags
    {
        get
        {
            uint flags;
            int active;
            CudaDriver.Check(CudaDriver.cuDevicePrimaryCtxGetState(_device, &flags, &active), "cuDevicePrimaryCtxGetState");
            return flags;
        }
    }

    /// <summary>Returns every cached device block to the driver, after the work queued on both streams has finished: a block
    /// back in the cache may still be read or written by a queued kernel or copy, and the driver may hand it to anyone.</summary>
    internal void EmptyCache()
    {
        Synchronize();
        _allocator.ReleaseCached();
    }

    /// <summary>Where each kernel module came from (fatbin, cache or NVRTC), for `vicreg devices` and logs.</summary>
    public IReadOnlyDictionary<string, string> KernelOrigins => _modules.Origins;

    // ---- checks shared by the kernel families -----------------------------------------------------------
    private void Own(Tensor t, string call)
    {
        if (!ReferenceEquals(t.Backend, this))
            throw new InvalidOperationException($"{call}: a tensor on {t.Backend.Name} was passed to {Name}; copy it to the device first");
    }

    /// <summary>The device pointer of a Float32 tensor of this backend.</summary>
    private nint F32(Tensor t, string call)
    {
        Own(t, call);
        if (t.DType != DType.Float32) throw new NotSupportedException($"{call} on {Name}: {t.DType.Name()} tensors are not supported (float32 only)");
        return t.Data;
    }

    private nint F32OrNull(Tensor? t, string call) => t is null ? 0 : F32(t, call);

    private nint I32(Tensor t, string call)
    {
        Own(t, call);
        if (t.DType != DType.Int32) throw new NotSupportedException($"{call} on {Name}: expected an int32 tensor, got {t.DType.Name()}");
        return t.Data;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (_context != 0)
        {
            MakeCurrent();
            if (Stream != 0) CudaDriver.cuStreamSynchronize(Stream);
            if (_copyStream != 0) CudaDriver.cuStreamSynchronize(_copyStream);
        }
        DisposeConvolutionPlans();
        DisposeStaging();
        _modules?.Dispose();
        if (_cudnn != 0) { Cudnn.cudnnDestroy(_cudnn); _cudnn = 0; }
        if (_cublas != 0) { Cublas.cublasDestroy(_cublas); _cublas = 0; }
        if (_context != 0) _allocator.ReleaseCached();
        if (_copyStream != 0) { CudaDriver.cuStreamDestroy(_copyStream); _copyStream = 0; }
        if (Stream != 0) { CudaDriver.cuStreamDestroy(Stream); Stream = 0; }
        if (_context != 0)
        {
            CudaDriver.cuDevicePrimaryCtxRelease(_device);
            if (t_currentContext == _context) t_currentContext = 0;
            _context = 0;
        }
    }
}
