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

    private sealed class ConvolutionPlan
    {
        public nint X, W, Y, Convolution;
        public int ForwardAlgorithm = -1, BackwardDataAlgorithm = -1, BackwardFilterAlgorithm = -1;
        public int ForwardMath, BackwardDataMath, BackwardFilterMath;
        public nuint ForwardWorkspace, BackwardDataWorkspace, BackwardFilterWorkspace;
    }

    private readonly Dictionary<Conv2dGeometry, ConvolutionPlan> _convolutionPlans = new();

    public void Conv2dForward(in Conv2dGeometry g, Tensor x, Tensor weight, Tensor y)
    {
        nint xp = F32(x, nameof(Conv2dForward)), wp = F32(weight, nameof(Conv2dForward)), yp = F32(y, nameof(Conv2dForward));
        if (!UsesCudnnConvolution) { Im2ColForward(g, xp, wp, yp); return; }
        var plan = Plan(g);
        if (plan.ForwardAlgorithm < 0)
        {
            var perf = Choose(plan, (requested, returned, results, workspace, bytes) => _benchmarkConvolutions && workspace != 0
                ? Cudnn.cudnnFindConvolutionForwardAlgorithmEx(_cudnn, plan.X, xp, plan.W, wp, plan.Convolution, plan.Y, yp, requested, returned, results, workspace, bytes)
                : Cudnn.cudnnGetConvolutionForwardAlgorithm_v7(_cudnn, plan.X, plan.W, plan.Convolution, plan.Y, requested, returned, results),
                "cudnnGetConvolutionForwardAlgorithm_v7 / FindEx");
            plan.ForwardAlgorithm = perf.Algorithm;
            plan.ForwardMath = perf.MathType;
            // The workspace depends on the math type too: set it before asking.
            Cudnn.Check(Cudnn.cudnnSetConvolutionMathType(plan.Convolution, perf.MathType), "cudnnSetConvolutionMathType");
            nuint bytes;
            Cudnn.Check(Cudnn.cudnnGetConvolutionForwardWorkspaceSize(_cudnn, plan.X, plan.W, plan.Convolution, plan.Y, perf.Algorithm, &bytes),
                "cudnnGetConvolutionForwardWorkspaceSize");
            plan.ForwardWorkspace = Math.Max(bytes, perf.Memory);
        }
        Cudnn.Check(Cudnn.cudnnSetConvolutionMathType(plan.Convolution, plan.ForwardMath), "cudnnSetConvolutionMathType");
        using var workspace = new Scratch(this, (long)plan.ForwardWorkspace);
        float one = 1, zero = 0;
        Cudnn.Check(Cudnn.cudnnConvolutionForward(_cudnn, &one, plan.X, xp, plan.W, wp, plan.Convolution, plan.ForwardAlgorithm,
            workspace.Pointer, plan.ForwardWorkspace, &zero, plan.Y, yp), "cudnnConvolutionForward");
    }

    public void Conv2dBackwardData(in Conv2dGeometry g, Tensor dy, Tensor weight, Tensor dx)
    {
        nint dyp = F32(dy, nameof(Conv2dBackwardData)), wp = F32(weight, nameof(Conv2dBackwardData)), dxp = F32(dx, nameof(Conv2dBackwardData));
        if (!UsesCudnnConvolution) { Im2ColBackwardData(g, dyp, wp, dxp); return; }
        var plan = Plan(g);
        if (plan.BackwardDataAlgorithm < 0)
        {
            var perf = Choose(plan, (requested, returned, results, workspace, bytes) => _benchmarkConvolutions && workspace != 0
                ? Cudnn.cudnnFindConvolutionBackwardDataAlgorithmEx(_cudnn, plan.W, wp, plan.Y, dyp, plan.Convolution, plan.X, dxp, requested, returned, results, workspace, bytes)
                : Cudnn.cudnnGetConvolutionBackwardDataAlgorithm_v7(_cudnn, plan.W, plan.Y, plan.Convolution, plan.X, requested, returned, results),
                "cudnnGetConvolutionBackwardDataAlgorithm_v7 / FindEx");
            plan.BackwardDataAlgorithm = perf.Algorithm;
            plan.BackwardDataMath = perf.MathType;
            // The workspace depends on the math type too: set it before asking.
            Cudnn.Check(Cudnn.cudnnSetConvolutionMathType(plan.Convolution, perf.MathType), "cudnnSetConvolutionMathType");
            nuint bytes;
            Cudnn.Check(Cudnn.cudnnGetConvolutionBackwardDataWorkspaceSize(_cudnn, plan.W, plan.Y, plan.Convolution, plan.X, perf.Algorithm, &bytes),
                "cudnnGetConvolutionBackwardDataWorkspaceSize");
            plan.BackwardDataWorkspace = Math.Max(bytes, perf.Memory);
        }
        Cudnn.Check(Cudnn.cudnnSetConvolutionMathType(plan.Convolution, plan.BackwardDataMath), "cudnnSetConvolutionMathType");
        using var workspace = new Scratch(this, (long)plan.BackwardDataWorkspace);
        float one = 1, zero = 0;
        Cudnn.Check(Cudnn.cudnnConvolutionBackwardData(_cudnn, &one, plan.W, wp, plan.Y, dyp, plan.Convolution, plan.BackwardDataAlgorithm,
            workspace.Pointer, plan.BackwardDataWorkspace, &zero, plan.X, dxp), "cudnnConvolutionBackwardData");
    }

    public void Conv2dBackwardFilter(in Conv2dGeometry g, Tensor x, Tensor dy, Tensor dweight)
    {
        nint xp = F32(x, nameof(Conv2dBackwardFilter)), dyp = F32(dy, nameof(Conv2dBackwardFilter)), dwp = F32(dweight, nameof(Conv2dBackwardFilter));
        if (!UsesCudnnConvolution) { Im2ColBackwardFilter(g, xp, dyp, dwp); return; }
        var plan = Plan(g);
        if (plan.BackwardFilterAlgorithm < 0)
        {
            var perf = Choose(plan, (requested, returned, results, workspace, bytes) => _benchmarkConvolutions && workspace != 0
                ? Cudnn.cudnnFindConvolutionBackwardFilterAlgorithmEx(_cudnn, plan.X, xp, plan.Y, dyp, plan.Convolution, plan.W, dwp, requested, returned, results, workspace, bytes)
                : Cudnn.cudnnGetConvolutionBackwardFilterAlgorithm_v7(_cudnn, plan.X, plan.Y, plan.Convolution, plan.W, requested, returned, results),
                "cudnnGetConvolutionBackwardFilterAlgorithm_v7 / FindEx");
            plan.BackwardFilterAlgorithm = perf.Algorithm;
            plan.BackwardFilterMath = perf.MathType;
            // The workspace depends on the math type too: set it before asking.
            Cudnn.Check(Cudnn.cudnnSetConvolutionMathType(plan.Convolution, perf.MathType), "cudnnSetConvolutionMathType");
            nuint bytes;
            Cudnn.Check(Cudnn.cudnnGetConvolutionBackwardFilterWorkspaceSize(_cudnn, plan.X, plan.Y, plan.Convolution, plan.W, perf.Algorithm, &bytes),
                "cudnnGetConvolutionBackwardFilterWorkspaceSize");
            plan.BackwardFilterWorkspace = Math.Max(bytes, perf.Memory);
        }
        Cudnn.Check(Cudnn.cudnnSetConvolutionMathType(plan.Convolution, plan.BackwardFilterMath), "cudnnSetConvolutionMathType");
        using var workspace = new Scratch(this, (long)plan.BackwardFilterWorkspace);
        float one = 1, zero = 0;
        Cudnn.Check(Cudnn.cudnnConvolutionBackwardFilter(_cudnn, &one, plan.X, xp, plan.Y, dyp, plan.Convolution, plan.BackwardFilterAlgorithm,
            workspace.Pointer, plan.BackwardFilterWorkspace, &zero, plan.W, dwp), "cudnnConvolutionBackwardFilter");
    }

    private delegate int AlgorithmQuery(int requested, int* returned, Cudnn.AlgorithmPerformance* results, nint workspace, nuint workspaceBytes);

    /// <summary>Runs a _v7 heuristic query (or FindEx, when benchmarking) and takes the first algorithm that
    /// succeeded and fits the workspace limit. Each direction has at most 8 algorithms in cuDNN 8 and 9.</summary>
    private Cudnn.AlgorithmPerformance Choose(ConvolutionPlan plan, AlgorithmQuery query, string call)
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
                Cudnn.Check(query(Requested, &returned, results, workspace, (nuint)limit), call);
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
            Cudnn.Check(query(Requested, &returned, results, 0, (nuint)limit), call);
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
        throw new CudaException($"{call}: cuDNN offered no algorithm within {CudaDeviceAllocator.Bytes(limit)} of workspace ({returned} candidates)");
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
