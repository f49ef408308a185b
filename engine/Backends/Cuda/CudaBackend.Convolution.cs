using Vicreg.Engine.Backends.Cuda.Native;

namespace Vicreg.Engine.Backends.Cuda;

/// <summary>
/// Convolutions through cuDNN: one plan per <see cref="Conv2dGeometry"/> (descriptors plus, per direction, the
/// algorithm chosen on first use and its workspace size). On a direction's first use the candidates cuDNN offers
/// (heuristics, or timed by FindEx) are tried in its order, as PyTorch does: one whose workspace cannot be
/// allocated, or that cuDNN then refuses to run, gives way to the next; the first that runs is kept for the shape.
/// All directions share one workspace, grown on demand. When cuDNN is unusable (see CudaBackend.Cudnn.cs) the same
/// three methods run im2col + cuBLAS one image at a time.
/// </summary>
public sealed unsafe partial class CudaBackend
{
    /// <summary>An optional cap on one algorithm's workspace. Without it the cap is what the device can still give:
    /// free memory as the driver reports it plus what the caching allocator holds and could return.</summary>
    public long ConvolutionWorkspaceLimit { get; set; } = long.MaxValue;

    /// <summary>What a plan keeps for one direction: the algorithm chosen on first use (-1 before), its math type
    /// and its workspace size.</summary>
    private sealed class ConvolutionChoice
    {
        public int Algorithm = -1, MathType;
        public nuint Workspace;
    }

    private sealed class ConvolutionPlan
    {
        public nint X, W, Y, Convolution;
        public readonly ConvolutionChoice Forward = new(), BackwardData = new(), BackwardFilter = new();
    }

    /// <summary>One direction's cuDNN calls and the names its errors carry. All three directions take their operands in
    /// the same order, two inputs then the output (x, w to y; w, dy to dx; x, dy to dw), so one routine drives each.</summary>
    private sealed class ConvolutionCalls
    {
        public required delegate*<nint, nint, nint, nint, nint, int, int*, Cudnn.AlgorithmPerformance*, int> Heuristic { get; init; }
        public required delegate*<nint, nint, nint, nint, nint, nint, nint, nint, int, int*, Cudnn.AlgorithmPerformance*, nint, nuint, int> Find { get; init; }
        public required delegate*<nint, nint, nint, nint, nint, int, nuint*, int> WorkspaceSize { get; init; }
        public required delegate*<nint, float*, nint, nint, nint, nint, nint, int, nint, nuint, float*, nint, nint, int> Run { get; init; }
        public required string HeuristicName { get; init; }
        public required string FindName { get; init; }
        public required string WorkspaceSizeName { get; init; }
        public required string RunName { get; init; }
    }

    private static readonly ConvolutionCalls ForwardCalls = new()
    {
        Heuristic = &Cudnn.cudnnGetConvolutionForwardAlgorithm_v7, Find = &Cudnn.cudnnFindConvolutionForwardAlgorithmEx,
        WorkspaceSize = &Cudnn.cudnnGetConvolutionForwardWorkspaceSize, Run = &Cudnn.cudnnConvolutionForward,
        HeuristicName = "cudnnGetConvolutionForwardAlgorithm_v7", FindName = "cudnnFindConvolutionForwardAlgorithmEx", WorkspaceSizeName = "cudnnGetConvolutionForwardWorkspaceSize",
        RunName = "cudnnConvolutionForward",
    };

    private static readonly ConvolutionCalls BackwardDataCalls = new()
    {
        Heuristic = &Cudnn.cudnnGetConvolutionBackwardDataAlgorithm_v7, Find = &Cudnn.cudnnFindConvolutionBackwardDataAlgorithmEx,
        WorkspaceSize = &Cudnn.cudnnGetConvolutionBackwardDataWorkspaceSize, Run = &Cudnn.cudnnConvolutionBackwardData,
        HeuristicName = "cudnnGetConvolutionBackwardDataAlgorithm_v7", FindName = "cudnnFindConvolutionBackwardDataAlgorithmEx", WorkspaceSizeName = "cudnnGetConvolutionBackwardDataWorkspaceSize",
        RunName = "cudnnConvolutionBackwardData",
    };

    private static readonly ConvolutionCalls BackwardFilterCalls = new()
    {
        Heuristic = &Cudnn.cudnnGetConvolutionBackwardFilterAlgorithm_v7, Find = &Cudnn.cudnnFindConvolutionBackwardFilterAlgorithmEx,
        WorkspaceSize = &Cudnn.cudnnGetConvolutionBackwardFilterWorkspaceSize, Run = &Cudnn.cudnnConvolutionBackwardFilter,
        HeuristicName = "cudnnGetConvolutionBackwardFilterAlgorithm_v7", FindName = "cudnnFindConvolutionBackwardFilterAlgorithmEx", WorkspaceSizeName = "cudnnGetConvolutionBackwardFilterWorkspaceSize",
        RunName = "cudnnConvolutionBackwardFilter",
    };

    /// <summary>A direction's operands in its calls' order: the first input, the second input, the output (descriptor, pointer).</summary>
    private readonly record struct ConvolutionOperands(nint ADesc, nint A, nint BDesc, nint B, nint OutDesc, nint Out);

    private readonly Dictionary<Conv2dGeometry, ConvolutionPlan> _convolutionPlans = new();

    public void Conv2dForward(in Conv2dGeometry g, Tensor x, Tensor weight, Tensor y)
    {
        KernelChecks.Convolution(nameof(Conv2dForward), g, x, weight, y);
        nint xp = F32(x, nameof(Conv2dForward)), wp = F32(weight, nameof(Conv2dForward)), yp = F32(y, nameof(Conv2dForward));
        if (!UsesCudnnConvolution) { Im2ColForward(g, xp, wp, yp); return; }
        var plan = Plan(g);
        Convolve(plan, plan.Forward, ForwardCalls, new(plan.X, xp, plan.W, wp, plan.Y, yp));
    }

    public void Conv2dBackwardData(in Conv2dGeometry g, Tensor dy, Tensor weight, Tensor dx)
    {
        KernelChecks.Convolution(nameof(Conv2dBackwardData), g, dx, weight, dy);
        nint dyp = F32(dy, nameof(Conv2dBackwardData)), wp = F32(weight, nameof(Conv2dBackwardData)), dxp = F32(dx, nameof(Conv2dBackwardData));
        if (!UsesCudnnConvolution) { Im2ColBackwardData(g, dyp, wp, dxp); return; }
        var plan = Plan(g);
        Convolve(plan, plan.BackwardData, BackwardDataCalls, new(plan.W, wp, plan.Y, dyp, plan.X, dxp));
    }

    public void Conv2dBackwardFilter(in Conv2dGeometry g, Tensor x, Tensor dy, Tensor dweight)
    {
        KernelChecks.Convolution(nameof(Conv2dBackwardFilter), g, x, dweight, dy);
        nint xp = F32(x, nameof(Conv2dBackwardFilter)), dyp = F32(dy, nameof(Conv2dBackwardFilter)), dwp = F32(dweight, nameof(Conv2dBackwardFilter));
        if (!UsesCudnnConvolution) { Im2ColBackwardFilter(g, xp, dyp, dwp); return; }
        var plan = Plan(g);
        Convolve(plan, plan.BackwardFilter, BackwardFilterCalls, new(plan.X, xp, plan.Y, dyp, plan.W, dwp));
    }

    /// <summary>Runs one direction of a plan with its kept algorithm; on the direction's first use, finds that algorithm
    /// by trying cuDNN's candidates in order and keeping the first that runs.</summary>
    private void Convolve(ConvolutionPlan plan, ConvolutionChoice choice, ConvolutionCalls calls, in ConvolutionOperands o)
    {
        MakeCurrent();
        // The kept algorithm, unless its workspace can no longer be had (memory has filled since): then choose again.
        if (choice.Algorithm >= 0 && ReserveWorkspace((long)choice.Workspace))
        {
            Cudnn.Check(Cudnn.cudnnSetConvolutionMathType(plan.Convolution, choice.MathType), "cudnnSetConvolutionMathType");
            Cudnn.Check(RunAfterEmptyingCacheIfNeeded(plan, choice.Algorithm, choice.Workspace, calls, o), calls.RunName);
            return;
        }
        var refused = new List<string>();
        foreach (var candidate in Candidates(plan, calls, o, refused))
        {
            int algorithm = candidate.Algorithm;
            // Without TF32, never a tensor-op variant the heuristics may still list. The workspace depends on the math type.
            int math = AllowTf32 ? candidate.MathType : Cudnn.FmaMath;
            Cudnn.Check(Cudnn.cudnnSetConvolutionMathType(plan.Convolution, math), "cudnnSetConvolutionMathType");
            nuint bytes;
            int status = calls.WorkspaceSize(_cudnn, o.ADesc, o.BDesc, plan.Convolution, o.OutDesc, algorithm, &bytes);
            if (status != 0) { refused.Add($"algorithm {algorithm}: {calls.WorkspaceSizeName} {Cudnn.ErrorName(status)}"); continue; }
            bytes = Math.Max(bytes, candidate.Memory);
            if (!ReserveWorkspace((long)bytes)) { refused.Add($"algorithm {algorithm}: {CudaDeviceAllocator.Bytes((long)bytes)} of workspace could not be allocated"); continue; }
            status = RunAfterEmptyingCacheIfNeeded(plan, algorithm, bytes, calls, o);
            if (status == 0)
            {
                choice.Algorithm = algorithm;
                choice.MathType = math;
                choice.Workspace = bytes;
                return;
            }
            refused.Add($"algorithm {algorithm}: {Cudnn.ErrorName(status)}");
        }
        throw new CudaException($"{calls.RunName}: no cuDNN algorithm ran this convolution ({string.Join("; ", refused)})");
    }

    /// <summary>Runs the convolution; when cuDNN could not allocate memory of its own, returns the allocator's cache to the
    /// driver (after the queued work) and runs once more.</summary>
    private int RunAfterEmptyingCacheIfNeeded(ConvolutionPlan plan, int algorithm, nuint workspaceBytes, ConvolutionCalls calls, in ConvolutionOperands o)
    {
        float one = 1, zero = 0;
        int status = calls.Run(_cudnn, &one, o.ADesc, o.A, o.BDesc, o.B, plan.Convolution, algorithm, _workspace, workspaceBytes, &zero, o.OutDesc, o.Out);
        if (!Cudnn.IsAllocationFailure(status)) return status;
        EmptyCache();
        return calls.Run(_cudnn, &one, o.ADesc, o.A, o.BDesc, o.B, plan.Convolution, algorithm, _workspace, workspaceBytes, &zero, o.OutDesc, o.Out);
    }

    /// <summary>cuDNN's candidates in its order (heuristics, or FindEx timings when benchmarking and not deterministic), less
    /// those it reports unusable, non-deterministic ones under --deterministic, and those needing more workspace than the
    /// device can still give (free memory plus the allocator's cache plus the current workspace). Each direction has at most
    /// 8 algorithms in cuDNN 8 and 9.</summary>
    private List<Cudnn.AlgorithmPerformance> Candidates(ConvolutionPlan plan, ConvolutionCalls calls, in ConvolutionOperands o, List<string> refused)
    {
        const int Requested = 16;
        var results = stackalloc Cudnn.AlgorithmPerformance[Requested];
        int returned = 0;
        var (free, _) = DeviceMemory();
        long limit = Math.Min(ConvolutionWorkspaceLimit, free + _allocator.Statistics.BytesCached + _workspaceBytes);
        if (_benchmarkConvolutions && !Deterministic)
        {
            // A one-off scratch for timing the candidates, straight from the driver: through the cache it would stay
            // parked there at a size nothing else asks for. Half of what is free, so the timing itself cannot exhaust the device.
            long findBytes = Math.Min(ConvolutionWorkspaceLimit, free / 2);
            nint scratch = 0;
            if (CudaDriver.cuMemAlloc(&scratch, (nuint)findBytes) != CudaDriver.Success) scratch = 0; // falls back to the heuristics
            try
            {
                if (scratch != 0)
                    Cudnn.Check(calls.Find(_cudnn, o.ADesc, o.A, o.BDesc, o.B, plan.Convolution, o.OutDesc, o.Out, Requested, &returned, results, scratch, (nuint)findBytes), calls.FindName);
            }
            finally
            {
                if (scratch != 0)
                {
                    CudaDriver.Check(CudaDriver.cuStreamSynchronize(Stream), "cuStreamSynchronize");
                    CudaDriver.Check(CudaDriver.cuMemFree(scratch), "cuMemFree_v2");
                }
            }
        }
        if (returned == 0)
            Cudnn.Check(calls.Heuristic(_cudnn, o.ADesc, o.BDesc, plan.Convolution, o.OutDesc, Requested, &returned, results), calls.HeuristicName);
        var candidates = new List<Cudnn.AlgorithmPerformance>(returned);
        for (int i = 0; i < returned; i++)
        {
            var r = results[i];
            if (r.Status != 0) refused.Add($"algorithm {r.Algorithm}: {Cudnn.ErrorName(r.Status)}");
            else if (Deterministic && r.Determinism != Cudnn.Deterministic) refused.Add($"algorithm {r.Algorithm}: not deterministic");
            else if ((long)r.Memory > limit) refused.Add($"algorithm {r.Algorithm}: needs {CudaDeviceAllocator.Bytes((long)r.Memory)} of workspace, {CudaDeviceAllocator.Bytes(limit)} available");
            else candidates.Add(r);
        }
        return candidates;
    }

    /// <summary>The algorithms kept for a shape (-1: not chosen yet), for tests and diagnostics.</summary>
    internal (int Forward, int BackwardData, int BackwardFilter) ConvolutionAlgorithms(in Conv2dGeometry g) =>
        _convolutionPlans.TryGetValue(g, out var p) ? (p.Forward.Algorithm, p.BackwardData.Algorithm, p.BackwardFilter.Algorithm) : (-1, -1, -1);

    // The one workspace every direction and shape shares (queued in stream order, so one at a time), from the caching allocator.
    private nint _workspace;
    private long _workspaceBytes;

    /// <summary>Grows the shared workspace to at least <paramref name="bytes"/>; false when the device cannot give that much
    /// (the allocator has already returned its cache to the driver and retried).</summary>
    private bool ReserveWorkspace(long bytes)
    {
        if (bytes <= _workspaceBytes) return true;
        // The old workspace goes back to the cache: work queued on the stream that still uses it runs before any later user.
        ReleaseWorkspace();
        try
        {
            _workspace = _allocator.Allocate(bytes);
            _workspaceBytes = bytes;
            return true;
        }
        catch (CudaOutOfMemoryException)
        {
            return false;
        }
    }

    private void ReleaseWorkspace()
    {
        if (_workspace != 0) _allocator.Free(_workspace, _workspaceBytes);
        _workspace = 0;
        _workspaceBytes = 0;
    }

    private ConvolutionPlan Plan(in Conv2dGeometry g)
    {
        if (_convolutionPlans.TryGetValue(g, out var plan)) return plan;
        MakeCurrent();
        plan = new ConvolutionPlan();
        try
        {
            nint d;
            Cudnn.Check(Cudnn.cudnnCreateTensorDescriptor(&d), "cudnnCreateTensorDescriptor");
            plan.X = d;
            Cudnn.Check(Cudnn.cudnnSetTensor4dDescriptor(plan.X, Cudnn.TensorNchw, Cudnn.DataFloat, g.Batch, g.InChannels, g.InHeight, g.InWidth), "cudnnSetTensor4dDescriptor(x)");
            Cudnn.Check(Cudnn.cudnnCreateTensorDescriptor(&d), "cudnnCreateTensorDescriptor");
            plan.Y = d;
            Cudnn.Check(Cudnn.cudnnSetTensor4dDescriptor(plan.Y, Cudnn.TensorNchw, Cudnn.DataFloat, g.Batch, g.OutChannels, g.OutHeight, g.OutWidth), "cudnnSetTensor4dDescriptor(y)");
            Cudnn.Check(Cudnn.cudnnCreateFilterDescriptor(&d), "cudnnCreateFilterDescriptor");
            plan.W = d;
            Cudnn.Check(Cudnn.cudnnSetFilter4dDescriptor(plan.W, Cudnn.DataFloat, Cudnn.TensorNchw, g.OutChannels, g.InChannels, g.KernelHeight, g.KernelWidth), "cudnnSetFilter4dDescriptor");
            Cudnn.Check(Cudnn.cudnnCreateConvolutionDescriptor(&d), "cudnnCreateConvolutionDescriptor");
            plan.Convolution = d;
            Cudnn.Check(Cudnn.cudnnSetConvolution2dDescriptor(plan.Convolution, g.PadHeight, g.PadWidth, g.StrideHeight, g.StrideWidth, 1, 1,
                Cudnn.CrossCorrelation, Cudnn.DataFloat), "cudnnSetConvolution2dDescriptor");
            Cudnn.Check(Cudnn.cudnnSetConvolutionMathType(plan.Convolution, AllowTf32 ? Cudnn.DefaultMath : Cudnn.FmaMath), "cudnnSetConvolutionMathType");
        }
        catch
        {
            Destroy(plan);
            throw;
        }
        _convolutionPlans[g] = plan;
        return plan;
    }

    private static void Destroy(ConvolutionPlan plan)
    {
        if (plan.X != 0) Cudnn.cudnnDestroyTensorDescriptor(plan.X);
        if (plan.Y != 0) Cudnn.cudnnDestroyTensorDescriptor(plan.Y);
        if (plan.W != 0) Cudnn.cudnnDestroyFilterDescriptor(plan.W);
        if (plan.Convolution != 0) Cudnn.cudnnDestroyConvolutionDescriptor(plan.Convolution);
    }

    private void DisposeConvolutionPlans()
    {
        ReleaseWorkspace();
        foreach (var plan in _convolutionPlans.Values) Destroy(plan);
        _convolutionPlans.Clear();
    }

    // ---- im2col + cuBLAS fallback, one image at a time ------------------------------------------------------
    private void Im2Col(in Conv2dGeometry g, nint image, nint cols) =>
        LaunchIm2colF32(GridFor((long)g.InChannels * g.KernelHeight * g.KernelWidth * g.OutHeight * g.OutWidth), x: image, cols: cols,
            channels: g.InChannels, height: g.InHeight, width: g.InWidth, kernelH: g.KernelHeight, kernelW: g.KernelWidth,
            strideH: g.StrideHeight, strideW: g.StrideWidth, padH: g.PadHeight, padW: g.PadWidth, outHeight: g.OutHeight, outWidth: g.OutWidth);

    private void Col2Im(in Conv2dGeometry g, nint cols, nint image) =>
        LaunchCol2imF32(GridFor((long)g.InChannels * g.InHeight * g.InWidth), cols: cols, dx: image,
            channels: g.InChannels, height: g.InHeight, width: g.InWidth, kernelH: g.KernelHeight, kernelW: g.KernelWidth,
            strideH: g.StrideHeight, strideW: g.StrideWidth, padH: g.PadHeight, padW: g.PadWidth, outHeight: g.OutHeight, outWidth: g.OutWidth);

    private static (int Rows, int Spatial, long ImageIn, long ImageOut) FallbackSizes(in Conv2dGeometry g) =>
        (g.InChannels * g.KernelHeight * g.KernelWidth, g.OutHeight * g.OutWidth,
         (long)g.InChannels * g.InHeight * g.InWidth * 4, (long)g.OutChannels * g.OutHeight * g.OutWidth * 4);

    private void Im2ColForward(in Conv2dGeometry g, nint x, nint w, nint y)
    {
        var (rows, spatial, imageIn, imageOut) = FallbackSizes(g);
        using var cols = new Scratch(this, g.IsPointwise ? 4 : (long)rows * spatial * 4);
        for (int n = 0; n < g.Batch; n++)
        {
            nint input = x + (nint)(n * imageIn), source = input;
            if (!g.IsPointwise) { Im2Col(g, input, cols.Pointer); source = cols.Pointer; }
            GemmRowMajor(false, false, g.OutChannels, spatial, rows, 1, w, source, 0, y + (nint)(n * imageOut));
        }
    }

    private void Im2ColBackwardData(in Conv2dGeometry g, nint dy, nint w, nint dx)
    {
        var (rows, spatial, imageIn, imageOut) = FallbackSizes(g);
        using var cols = new Scratch(this, g.IsPointwise ? 4 : (long)rows * spatial * 4);
        for (int n = 0; n < g.Batch; n++)
        {
            nint output = dx + (nint)(n * imageIn);
            nint target = g.IsPointwise ? output : cols.Pointer;
            GemmRowMajor(true, false, rows, spatial, g.OutChannels, 1, w, dy + (nint)(n * imageOut), 0, target);
            if (!g.IsPointwise) Col2Im(g, cols.Pointer, output);
        }
    }

    private void Im2ColBackwardFilter(in Conv2dGeometry g, nint x, nint dy, nint dw)
    {
        var (rows, spatial, imageIn, imageOut) = FallbackSizes(g);
        using var cols = new Scratch(this, g.IsPointwise ? 4 : (long)rows * spatial * 4);
        if (g.Batch == 0) { CudaDriver.Check(CudaDriver.cuMemsetD32Async(dw, 0, (nuint)((long)g.OutChannels * rows), Stream), "cuMemsetD32Async"); return; }
        for (int n = 0; n < g.Batch; n++)
        {
            nint input = x + (nint)(n * imageIn), source = input;
            if (!g.IsPointwise) { Im2Col(g, input, cols.Pointer); source = cols.Pointer; }
            GemmRowMajor(false, true, g.OutChannels, rows, spatial, 1, dy + (nint)(n * imageOut), source, n == 0 ? 0 : 1, dw);
        }
    }
}
