using Vicreg.Engine.Backends.Cuda.Native;

namespace Vicreg.Engine.Backends.Cuda;

/// <summary>
/// Convolutions through cuDNN: one plan per <see cref="Conv2dGeometry"/> (descriptors plus, per direction, the
/// algorithm chosen on first use and its workspace size), workspace taken from the caching allocator per call.
/// Without cuDNN's convolution symbols (absent library, or a future cuDNN that drops the deprecated API) the
/// same three methods run im2col + cuBLAS one image at a time.
/// </summary>
public sealed unsafe partial class CudaBackend
{
    /// <summary>The most workspace an algorithm may ask for; faster algorithms needing more are passed over.</summary>
    public long ConvolutionWorkspaceLimit { get; set; } = 512L << 20;

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
        public required string ChooseName { get; init; }
        public required string WorkspaceSizeName { get; init; }
        public required string RunName { get; init; }
    }

    private static readonly ConvolutionCalls ForwardCalls = new()
    {
        Heuristic = &Cudnn.cudnnGetConvolutionForwardAlgorithm_v7, Find = &Cudnn.cudnnFindConvolutionForwardAlgorithmEx,
        WorkspaceSize = &Cudnn.cudnnGetConvolutionForwardWorkspaceSize, Run = &Cudnn.cudnnConvolutionForward,
        ChooseName = "cudnnGetConvolutionForwardAlgorithm_v7 / FindEx", WorkspaceSizeName = "cudnnGetConvolutionForwardWorkspaceSize",
        RunName = "cudnnConvolutionForward",
    };

    private static readonly ConvolutionCalls BackwardDataCalls = new()
    {
        Heuristic = &Cudnn.cudnnGetConvolutionBackwardDataAlgorithm_v7, Find = &Cudnn.cudnnFindConvolutionBackwardDataAlgorithmEx,
        WorkspaceSize = &Cudnn.cudnnGetConvolutionBackwardDataWorkspaceSize, Run = &Cudnn.cudnnConvolutionBackwardData,
        ChooseName = "cudnnGetConvolutionBackwardDataAlgorithm_v7 / FindEx", WorkspaceSizeName = "cudnnGetConvolutionBackwardDataWorkspaceSize",
        RunName = "cudnnConvolutionBackwardData",
    };

    private static readonly ConvolutionCalls BackwardFilterCalls = new()
    {
        Heuristic = &Cudnn.cudnnGetConvolutionBackwardFilterAlgorithm_v7, Find = &Cudnn.cudnnFindConvolutionBackwardFilterAlgorithmEx,
        WorkspaceSize = &Cudnn.cudnnGetConvolutionBackwardFilterWorkspaceSize, Run = &Cudnn.cudnnConvolutionBackwardFilter,
        ChooseName = "cudnnGetConvolutionBackwardFilterAlgorithm_v7 / FindEx", WorkspaceSizeName = "cudnnGetConvolutionBackwardFilterWorkspaceSize",
        RunName = "cudnnConvolutionBackwardFilter",
    };

    /// <summary>A direction's operands in its calls' order: the first input, the second input, the output (descriptor, pointer).</summary>
    private readonly record struct ConvolutionOperands(nint ADesc, nint A, nint BDesc, nint B, nint OutDesc, nint Out);

    private readonly Dictionary<Conv2dGeometry, ConvolutionPlan> _convolutionPlans = new();

    public void Conv2dForward(in Conv2dGeometry g, Tensor x, Tensor weight, Tensor y)
    {
        nint xp = F32(x, nameof(Conv2dForward)), wp = F32(weight, nameof(Conv2dForward)), yp = F32(y, nameof(Conv2dForward));
        if (!UsesCudnnConvolution) { Im2ColForward(g, xp, wp, yp); return; }
        var plan = Plan(g);
        Convolve(plan, plan.Forward, ForwardCalls, new(plan.X, xp, plan.W, wp, plan.Y, yp));
    }

    public void Conv2dBackwardData(in Conv2dGeometry g, Tensor dy, Tensor weight, Tensor dx)
    {
        nint dyp = F32(dy, nameof(Conv2dBackwardData)), wp = F32(weight, nameof(Conv2dBackwardData)), dxp = F32(dx, nameof(Conv2dBackwardData));
        if (!UsesCudnnConvolution) { Im2ColBackwardData(g, dyp, wp, dxp); return; }
        var plan = Plan(g);
        Convolve(plan, plan.BackwardData, BackwardDataCalls, new(plan.W, wp, plan.Y, dyp, plan.X, dxp));
    }

    public void Conv2dBackwardFilter(in Conv2dGeometry g, Tensor x, Tensor dy, Tensor dweight)
    {
        nint xp = F32(x, nameof(Conv2dBackwardFilter)), dyp = F32(dy, nameof(Conv2dBackwardFilter)), dwp = F32(dweight, nameof(Conv2dBackwardFilter));
        if (!UsesCudnnConvolution) { Im2ColBackwardFilter(g, xp, dyp, dwp); return; }
        var plan = Plan(g);
        Convolve(plan, plan.BackwardFilter, BackwardFilterCalls, new(plan.X, xp, plan.Y, dyp, plan.W, dwp));
    }

    /// <summary>Runs one direction of a plan. On the direction's first use: chooses its algorithm, sets its math type and
    /// keeps the workspace size it needs; then (every time) sets that math type and runs with a workspace from the cache.</summary>
    private void Convolve(ConvolutionPlan plan, ConvolutionChoice choice, ConvolutionCalls calls, in ConvolutionOperands o)
    {
        if (choice.Algorithm < 0)
        {
            var perf = Choose(plan, calls, o);
            choice.Algorithm = perf.Algorithm;
            choice.MathType = perf.MathType;
            // The workspace depends on the math type too: set it before asking.
            Cudnn.Check(Cudnn.cudnnSetConvolutionMathType(plan.Convolution, perf.MathType), "cudnnSetConvolutionMathType");
            nuint bytes;
            Cudnn.Check(calls.WorkspaceSize(_cudnn, o.ADesc, o.BDesc, plan.Convolution, o.OutDesc, perf.Algorithm, &bytes), calls.WorkspaceSizeName);
            choice.Workspace = Math.Max(bytes, perf.Memory);
        }
        Cudnn.Check(Cudnn.cudnnSetConvolutionMathType(plan.Convolution, choice.MathType), "cudnnSetConvolutionMathType");
        using var workspace = new Scratch(this, (long)choice.Workspace);
        float one = 1, zero = 0;
        Cudnn.Check(calls.Run(_cudnn, &one, o.ADesc, o.A, o.BDesc, o.B, plan.Convolution, choice.Algorithm,
            workspace.Pointer, choice.Workspace, &zero, o.OutDesc, o.Out), calls.RunName);
    }

    /// <summary>Runs a _v7 heuristic query (or FindEx, when benchmarking) and takes the first algorithm that
    /// succeeded and fits the workspace limit. Each direction has at most 8 algorithms in cuDNN 8 and 9.</summary>
    private Cudnn.AlgorithmPerformance Choose(ConvolutionPlan plan, ConvolutionCalls calls, in ConvolutionOperands o)
    {
        const int Requested = 16;
        var results = stackalloc Cudnn.AlgorithmPerformance[Requested];
        int returned = 0;
        MakeCurrent();
        long limit = ConvolutionWorkspaceLimit;
        if (_benchmarkConvolutions)
        {
            var (free, _) = DeviceMemory();
            limit = Math.Min(limit, free / 2);
        }
        if (_benchmarkConvolutions)
        {
            // A one-off scratch for timing the candidates, straight from the driver: through the cache it would
            // stay parked there at a size nothing else asks for.
            nint workspace = 0;
            if (CudaDriver.cuMemAlloc(&workspace, (nuint)limit) != CudaDriver.Success) { workspace = 0; limit = ConvolutionWorkspaceLimit; } // falls back to _v7
            try
            {
                Cudnn.Check(workspace != 0
                    ? calls.Find(_cudnn, o.ADesc, o.A, o.BDesc, o.B, plan.Convolution, o.OutDesc, o.Out, Requested, &returned, results, workspace, (nuint)limit)
                    : calls.Heuristic(_cudnn, o.ADesc, o.BDesc, plan.Convolution, o.OutDesc, Requested, &returned, results), calls.ChooseName);
            }
            finally
            {
                if (workspace != 0)
                {
                    CudaDriver.Check(CudaDriver.cuStreamSynchronize(Stream), "cuStreamSynchronize");
                    CudaDriver.Check(CudaDriver.cuMemFree(workspace), "cuMemFree_v2");
                }
            }
        }
        else
        {
            Cudnn.Check(calls.Heuristic(_cudnn, o.ADesc, o.BDesc, plan.Convolution, o.OutDesc, Requested, &returned, results), calls.ChooseName);
        }
        for (int i = 0; i < returned; i++)
        {
            if (results[i].Status == 0 && (long)results[i].Memory <= limit)
            {
                var chosen = results[i];
                // Without TF32, never take a tensor-op variant the heuristics may still list.
                if (!AllowTf32) chosen.MathType = Cudnn.FmaMath;
                return chosen;
            }
        }
        throw new CudaException($"{calls.ChooseName}: cuDNN offered no algorithm within {CudaDeviceAllocator.Bytes(limit)} of workspace ({returned} candidates)");
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
        foreach (var plan in _convolutionPlans.Values) Destroy(plan);
        _convolutionPlans.Clear();
    }

    // ---- im2col + cuBLAS fallback, one image at a time ------------------------------------------------------
    private void Im2Col(in Conv2dGeometry g, nint image, nint cols, CudaKernel kernel)
    {
        int c = g.InChannels, h = g.InHeight, w = g.InWidth, kh = g.KernelHeight, kw = g.KernelWidth;
        int sh = g.StrideHeight, sw = g.StrideWidth, ph = g.PadHeight, pw = g.PadWidth, oh = g.OutHeight, ow = g.OutWidth;
        nint first = kernel == CudaKernel.Im2Col ? image : cols, second = kernel == CudaKernel.Im2Col ? cols : image;
        void** args = stackalloc void*[] { &first, &second, &c, &h, &w, &kh, &kw, &sh, &sw, &ph, &pw, &oh, &ow };
        long n = kernel == CudaKernel.Im2Col ? (long)c * kh * kw * oh * ow : (long)c * h * w;
        Launch(kernel, GridFor(n), args);
    }

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
            if (!g.IsPointwise) { Im2Col(g, input, cols.Pointer, CudaKernel.Im2Col); source = cols.Pointer; }
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
            if (!g.IsPointwise) Im2Col(g, output, cols.Pointer, CudaKernel.Col2Im);
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
            if (!g.IsPointwise) { Im2Col(g, input, cols.Pointer, CudaKernel.Im2Col); source = cols.Pointer; }
            GemmRowMajor(false, true, g.OutChannels, rows, spatial, 1, dy + (nint)(n * imageOut), source, n == 0 ? 0 : 1, dw);
        }
    }
}
