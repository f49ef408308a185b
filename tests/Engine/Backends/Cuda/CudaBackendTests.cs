using Vicreg.Engine;
using Vicreg.Engine.Backends.Cpu;
using static Vicreg.Tests.Engine.Backends.Cuda.CudaTestDevice;

namespace Vicreg.Tests.Engine.Backends.Cuda;

/// <summary>
/// The CUDA backend against the CPU backend on random data at awkward sizes. Needs a GPU: elsewhere every test
/// reports "skipped: no CUDA device (reason)". Run on a GPU machine with
/// dotnet test tests/Vicreg.Tests.csproj --filter "FullyQualifiedName~Vicreg.Tests.Engine.Backends.Cuda".
/// </summary>
[Collection(CudaDeviceCollection.Name)]
public class CudaBackendTests
{
    private static readonly IBackend Cpu = CpuBackend.Instance;

    [SkippableTheory]
    [InlineData(1, 1, 1, false, false)]
    [InlineData(7, 13, 5, false, false)]
    [InlineData(7, 13, 5, true, false)]
    [InlineData(31, 17, 64, false, true)]
    [InlineData(128, 3, 257, true, true)]
    public void Gemm_matches_cpu(int m, int n, int k, bool ta, bool tb)
    {
        var gpu = Require();
        float[] a = RandomArray(m * k, 1), b = RandomArray(k * n, 2), c = RandomArray(m * n, 3);
        int[] aDims = ta ? [k, m] : [m, k], bDims = tb ? [n, k] : [k, n];
        using var ca = On(Cpu, a, aDims); using var cb = On(Cpu, b, bDims); using var cc = On(Cpu, c, m, n);
        using var ga = On(gpu, a, aDims); using var gb = On(gpu, b, bDims); using var gc = On(gpu, c, m, n);
        Cpu.Gemm(ta, tb, 0.75, ca, cb, -0.5, cc);
        gpu.Gemm(ta, tb, 0.75, ga, gb, -0.5, gc);
        AssertClose(cc.ToArray<float>(), gc.ToArray<float>(), 1e-4, 1e-4 * Math.Sqrt(k), "gemm");
    }

    [SkippableFact]
    public void Gemm_with_tf32_is_close_to_cpu()
    {
        Require();
        using var gpu = new Vicreg.Engine.Backends.Cuda.CudaBackend(0, tf32Gemm: true);
        int m = 65, n = 33, k = 129;
        float[] a = RandomArray(m * k, 4), b = RandomArray(k * n, 5);
        using var ca = On(Cpu, a, m, k); using var cb = On(Cpu, b, k, n); using var cc = On(Cpu, new float[m * n], m, n);
        using var ga = On(gpu, a, m, k); using var gb = On(gpu, b, k, n); using var gc = On(gpu, new float[m * n], m, n);
        Cpu.Gemm(false, false, 1, ca, cb, 0, cc);
        gpu.Gemm(false, false, 1, ga, gb, 0, gc);
        AssertClose(cc.ToArray<float>(), gc.ToArray<float>(), 1e-2, 2e-2, "tf32 gemm"); // TF32 keeps 10 mantissa bits
    }

    public static TheoryData<Conv2dGeometry, bool> Convolutions()
    {
        var data = new TheoryData<Conv2dGeometry, bool>();
        Conv2dGeometry[] shapes =
        [
            new(2, 3, 7, 9, 5, 3, 3, 1, 1, 1, 1),
            new(1, 4, 11, 11, 6, 3, 3, 2, 2, 1, 1),
            new(3, 5, 6, 5, 7, 1, 1, 1, 1, 0, 0),
            new(2, 3, 13, 12, 4, 7, 7, 2, 2, 3, 3),
            new(1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0),
        ];
        foreach (var g in shapes) { data.Add(g, false); data.Add(g, true); }
        return data;
    }

    [SkippableTheory]
    [MemberData(nameof(Convolutions))]
    public void Convolution_forward_and_backward_match_cpu(Conv2dGeometry g, bool im2col)
    {
        var gpu = Require();
        gpu.ForceIm2ColConvolution = im2col;
        try
        {
            AssertConvolutionsMatchCpu(gpu, g);
        }
        finally
        {
            gpu.ForceIm2ColConvolution = false;
        }
    }

    /// <summary>Forward, backward-data and backward-filter of <paramref name="g"/> on random data, against the CPU backend.</summary>
    internal static void AssertConvolutionsMatchCpu(Vicreg.Engine.Backends.Cuda.CudaBackend gpu, Conv2dGeometry g, double rtol = 1e-4, double atolPerRootTerm = 1e-4)
    {
        int[] xs = g.InputShape.ToArray(), ws = g.WeightShape.ToArray(), ys = g.OutputShape.ToArray();
        float[] x = RandomArray((int)g.InputShape.Numel, 11), w = RandomArray((int)g.WeightShape.Numel, 12);
        float[] dy = RandomArray((int)g.OutputShape.Numel, 13);
        using var cx = On(Cpu, x, xs); using var cw = On(Cpu, w, ws); using var cdy = On(Cpu, dy, ys);
        using var gx = On(gpu, x, xs); using var gw = On(gpu, w, ws); using var gdy = On(gpu, dy, ys);
        using var cy = Tensor.Empty(g.OutputShape, DType.Float32, Cpu); using var gy = Tensor.Empty(g.OutputShape, DType.Float32, gpu);
        Cpu.Conv2dForward(g, cx, cw, cy);
        gpu.Conv2dForward(g, gx, gw, gy);
        double atol = atolPerRootTerm * Math.Sqrt(g.InChannels * g.KernelHeight * g.KernelWidth);
        AssertClose(cy.ToArray<float>(), gy.ToArray<float>(), rtol, atol, "conv forward");

        using var cdx = Tensor.Empty(g.InputShape, DType.Float32, Cpu); using var gdx = Tensor.Empty(g.InputShape, DType.Float32, gpu);
        Cpu.Conv2dBackwardData(g, cdy, cw, cdx);
        gpu.Conv2dBackwardData(g, gdy, gw, gdx);
        AssertClose(cdx.ToArray<float>(), gdx.ToArray<float>(), rtol, atolPerRootTerm * Math.Sqrt(g.OutChannels * g.KernelHeight * g.KernelWidth), "conv backward data");

        using var cdw = Tensor.Empty(g.WeightShape, DType.Float32, Cpu); using var gdw = Tensor.Empty(g.WeightShape, DType.Float32, gpu);
        Cpu.Conv2dBackwardFilter(g, cx, cdy, cdw);
        gpu.Conv2dBackwardFilter(g, gx, gdy, gdw);
        AssertClose(cdw.ToArray<float>(), gdw.ToArray<float>(), rtol, atolPerRootTerm * Math.Sqrt(g.Batch * g.OutHeight * g.OutWidth), "conv backward filter");
    }

    /// <summary>The defaults, as PyTorch's: convolutions may use TF32 (torch.backends.cudnn.allow_tf32 = True), GEMMs do not
    /// (torch.backends.cuda.matmul.allow_tf32 = False). TF32 keeps 10 mantissa bits (unit roundoff 2^-11), so convolutions
    /// get a 1e-2 tolerance and GEMMs the float32 one. On the emulation, whose fakes round to TF32 exactly when asked for
    /// it, the convolution must also differ from float32: proof that TF32 is really on there.</summary>
    [SkippableFact]
    public void Defaults_are_tf32_convolutions_and_float32_gemm_as_pytorch()
    {
        Require();
        using var gpu = new Vicreg.Engine.Backends.Cuda.CudaBackend(0);
        Assert.True(gpu.AllowTf32);
        Assert.False(gpu.Tf32Gemm);
        int m = 65, n = 33, k = 129;
        float[] a = RandomArray(m * k, 21), b = RandomArray(k * n, 22);
        using var ca = On(Cpu, a, m, k); using var cb = On(Cpu, b, k, n); using var cc = On(Cpu, new float[m * n], m, n);
        using var ga = On(gpu, a, m, k); using var gb = On(gpu, b, k, n); using var gc = On(gpu, new float[m * n], m, n);
        Cpu.Gemm(false, false, 1, ca, cb, 0, cc);
        gpu.Gemm(false, false, 1, ga, gb, 0, gc);
        AssertClose(cc.ToArray<float>(), gc.ToArray<float>(), 1e-5, 1e-5 * Math.Sqrt(k), "float32 gemm");

        var g = new Conv2dGeometry(2, 5, 9, 8, 6, 3, 3, 1, 1, 1, 1);
        AssertConvolutionsMatchCpu(gpu, g, rtol: 1e-2, atolPerRootTerm: 2e-3);
        if (EmulatorFaults.Active && gpu.UsesCudnnConvolution)
        {
            float[] x = RandomArray((int)g.InputShape.Numel, 11), w = RandomArray((int)g.WeightShape.Numel, 12);
            using var cx = On(Cpu, x, g.InputShape.ToArray()); using var cw = On(Cpu, w, g.WeightShape.ToArray());
            using var gx = On(gpu, x, g.InputShape.ToArray()); using var gw = On(gpu, w, g.WeightShape.ToArray());
            using var cy = Tensor.Empty(g.OutputShape, DType.Float32, Cpu); using var gy = Tensor.Empty(g.OutputShape, DType.Float32, gpu);
            Cpu.Conv2dForward(g, cx, cw, cy);
            gpu.Conv2dForward(g, gx, gw, gy);
            double largest = cy.ToArray<float>().Zip(gy.ToArray<float>(), (e, v) => Math.Abs(e - v)).Max();
            Assert.True(largest > 1e-5, $"convolution matches float32 to {largest}: TF32 is not in effect");
        }
    }

    [SkippableFact]
    public void Convolution_with_benchmarked_algorithms_matches_cpu()
    {
        Require();
        using var gpu = new Vicreg.Engine.Backends.Cuda.CudaBackend(0, allowTf32: false, benchmarkConvolutions: true);
        Skip.IfNot(gpu.UsesCudnnConvolution, "skipped: cuDNN convolutions unavailable (the im2col path is tested above)");
        var g = new Conv2dGeometry(2, 3, 9, 8, 4, 3, 3, 2, 1, 1, 0);
        float[] x = RandomArray((int)g.InputShape.Numel, 14), w = RandomArray((int)g.WeightShape.Numel, 15);
        using var cx = On(Cpu, x, g.InputShape.ToArray()); using var cw = On(Cpu, w, g.WeightShape.ToArray());
        using var gx = On(gpu, x, g.InputShape.ToArray()); using var gw = On(gpu, w, g.WeightShape.ToArray());
        using var cy = Tensor.Empty(g.OutputShape, DType.Float32, Cpu); using var gy = Tensor.Empty(g.OutputShape, DType.Float32, gpu);
        Cpu.Conv2dForward(g, cx, cw, cy);
        gpu.Conv2dForward(g, gx, gw, gy);
        gpu.Conv2dForward(g, gx, gw, gy); // second call reuses the cached plan and algorithm
        AssertClose(cy.ToArray<float>(), gy.ToArray<float>(), 1e-4, 1e-3, "benchmarked conv forward");
    }

    [SkippableTheory]
    [InlineData(3, 5, 7, true)]
    [InlineData(4, 6, 1, false)]
    [InlineData(2, 1, 13, true)]
    [InlineData(5, 3, 300, true)]
    [InlineData(4, 2, 10007, true)]   // 40028 per channel: 2 blocks per channel
    [InlineData(3, 3, 30011, false)]  // 90033 per channel: 5 blocks per channel
    public void Batch_norm_matches_cpu(int outer, int channels, int inner, bool affine)
    {
        var gpu = Require();
        int n = outer * channels * inner;
        float[] x = RandomArray(n, 21, -2, 3), dy = RandomArray(n, 22), gamma = RandomArray(channels, 23, 0.5, 1.5), beta = RandomArray(channels, 24);
        float[] rm = RandomArray(channels, 25), rv = RandomArray(channels, 26, 0.5, 2);
        int[] dims = [outer, channels, inner];
        using var cx = On(Cpu, x, dims); using var gx = On(gpu, x, dims);
        using var cdy = On(Cpu, dy, dims); using var gdy = On(gpu, dy, dims);
        using var cg = On(Cpu, gamma, channels); using var gg = On(gpu, gamma, channels);
        using var cb = On(Cpu, beta, channels); using var gb = On(gpu, beta, channels);
        using var crm = On(Cpu, rm, channels); using var grm = On(gpu, rm, channels);
        using var crv = On(Cpu, rv, channels); using var grv = On(gpu, rv, channels);
        using var cy = On(Cpu, new float[n], dims); using var gy = On(gpu, new float[n], dims);
        using var cm = On(Cpu, new float[channels], channels); using var gm = On(gpu, new float[channels], channels);
        using var cs = On(Cpu, new float[channels], channels); using var gs = On(gpu, new float[channels], channels);

        Cpu.BatchNormTraining(cx, affine ? cg : null, affine ? cb : null, crm, crv, 0.1, 1e-5, cy, cm, cs);
        gpu.BatchNormTraining(gx, affine ? gg : null, affine ? gb : null, grm, grv, 0.1, 1e-5, gy, gm, gs);
        AssertClose(cy.ToArray<float>(), gy.ToArray<float>(), 1e-4, 1e-4, "bn y");
        AssertClose(cm.ToArray<float>(), gm.ToArray<float>(), 1e-4, 1e-5, "bn mean");
        AssertClose(cs.ToArray<float>(), gs.ToArray<float>(), 1e-4, 1e-5, "bn invstd");
        AssertClose(crm.ToArray<float>(), grm.ToArray<float>(), 1e-4, 1e-5, "bn running mean");
        AssertClose(crv.ToArray<float>(), grv.ToArray<float>(), 1e-4, 1e-5, "bn running var");

        using var cdx = On(Cpu, new float[n], dims); using var gdx = On(gpu, new float[n], dims);
        using var cdg = On(Cpu, new float[channels], channels); using var gdg = On(gpu, new float[channels], channels);
        using var cdb = On(Cpu, new float[channels], channels); using var gdb = On(gpu, new float[channels], channels);
        Cpu.BatchNormBackward(cx, cdy, affine ? cg : null, cm, cs, cdx, cdg, cdb);
        gpu.BatchNormBackward(gx, gdy, affine ? gg : null, gm, gs, gdx, gdg, gdb);
        AssertClose(cdx.ToArray<float>(), gdx.ToArray<float>(), 1e-3, 1e-4, "bn dx");
        AssertClose(cdg.ToArray<float>(), gdg.ToArray<float>(), 1e-4, 1e-4, "bn dgamma");
        AssertClose(cdb.ToArray<float>(), gdb.ToArray<float>(), 1e-4, 1e-4, "bn dbeta");

        Cpu.BatchNormInference(cx, affine ? cg : null, affine ? cb : null, crm, crv, 1e-5, cy);
        gpu.BatchNormInference(gx, affine ? gg : null, affine ? gb : null, grm, grv, 1e-5, gy);
        AssertClose(cy.ToArray<float>(), gy.ToArray<float>(), 1e-4, 1e-4, "bn inference");
    }

    [SkippableTheory]
    [InlineData(2, 3, 7, 9, 3, 2, 1)]
    [InlineData(1, 2, 8, 8, 2, 2, 0)]
    [InlineData(3, 1, 5, 11, 3, 1, 1)]
    public void Max_pooling_matches_cpu(int batch, int channels, int h, int w, int k, int s, int p)
    {
        var gpu = Require();
        var g = new Pool2dGeometry(batch, channels, h, w, k, k, s, s, p, p);
        float[] x = RandomArray((int)g.InputShape.Numel, 31), dy = RandomArray((int)g.OutputShape.Numel, 32);
        int[] xs = g.InputShape.ToArray(), ys = g.OutputShape.ToArray();
        using var cx = On(Cpu, x, xs); using var gx = On(gpu, x, xs);
        using var cy = Tensor.Empty(g.OutputShape, DType.Float32, Cpu); using var gy = Tensor.Empty(g.OutputShape, DType.Float32, gpu);
        using var ca = Tensor.Empty(g.OutputShape, DType.Int32, Cpu); using var ga = Tensor.Empty(g.OutputShape, DType.Int32, gpu);
        Cpu.MaxPool2dForward(g, cx, cy, ca);
        gpu.MaxPool2dForward(g, gx, gy, ga);
        Assert.Equal(cy.ToArray<float>(), gy.ToArray<float>());
        Assert.Equal(ca.ToArray<int>(), ga.ToArray<int>());
        using var cdy = On(Cpu, dy, ys); using var gdy = On(gpu, dy, ys);
        using var cdx = Tensor.Empty(g.InputShape, DType.Float32, Cpu); using var gdx = Tensor.Empty(g.InputShape, DType.Float32, gpu);
        Cpu.MaxPool2dBackward(g, cdy, ca, cdx);
        gpu.MaxPool2dBackward(g, gdy, ga, gdx);
        AssertClose(cdx.ToArray<float>(), gdx.ToArray<float>(), 1e-6, 1e-6, "maxpool dx");
    }

    public static TheoryData<UnaryOp> UnaryOps() => new(Enum.GetValues<UnaryOp>());
    public static TheoryData<BinaryOp> BinaryOps() => new(Enum.GetValues<BinaryOp>());

    [SkippableTheory]
    [MemberData(nameof(UnaryOps))]
    public void Unary_matches_cpu(UnaryOp op)
    {
        var gpu = Require();
        bool positive = op is UnaryOp.Sqrt or UnaryOp.Log or UnaryOp.Reciprocal or UnaryOp.Pow;
        foreach (int n in new[] { 1, 257, 10007 })
        {
            float[] x = RandomArray(n, 41, positive ? 0.1 : -3, 3);
            using var cx = On(Cpu, x, n); using var gx = On(gpu, x, n);
            using var cy = On(Cpu, new float[n], n); using var gy = On(gpu, new float[n], n);
            Cpu.Unary(op, cx, cy, 0.375);
            gpu.Unary(op, gx, gy, 0.375);
            AssertClose(cy.ToArray<float>(), gy.ToArray<float>(), 1e-5, 1e-6, $"{op} n={n}");
        }
    }

    [SkippableTheory]
    [MemberData(nameof(BinaryOps))]
    public void Binary_matches_cpu(BinaryOp op)
    {
        var gpu = Require();
        foreach (int n in new[] { 1, 263, 10009 })
        {
            float[] a = RandomArray(n, 51, -2, 2), b = RandomArray(n, 52, 0.5, 2);
            using var ca = On(Cpu, a, n); using var ga = On(gpu, a, n);
            using var cb = On(Cpu, b, n); using var gb = On(gpu, b, n);
            using var cy = On(Cpu, new float[n], n); using var gy = On(gpu, new float[n], n);
            Cpu.Binary(op, ca, cb, cy, 0.25);
            gpu.Binary(op, ga, gb, gy, 0.25);
            AssertClose(cy.ToArray<float>(), gy.ToArray<float>(), 1e-6, 1e-7, $"{op} n={n}");
        }
    }

    [SkippableTheory]
    [InlineData(1, 1, 1)]
    [InlineData(3, 5, 7)]
    [InlineData(2, 17, 1)]
    [InlineData(7, 3, 1031)]
    [InlineData(1, 4099, 1)]
    [InlineData(1, 70001, 1)]   // a whole-tensor sum over more blocks than the first pass launches
    [InlineData(1031, 67, 1)]   // column sums over many chunks of rows
    [InlineData(37, 8193, 1)]   // [N, 8192]-like: 33 column blocks, a short last chunk of rows
    public void Broadcasting_and_reductions_match_cpu(int outer, int mid, int inner)
    {
        var gpu = Require();
        int n = outer * mid * inner;
        int[] dims = [outer, mid, inner];
        float[] x = RandomArray(n, 61), v = RandomArray(mid, 62), y0 = RandomArray(n, 63), small = RandomArray(outer * inner, 64);
        using var cx = On(Cpu, x, dims); using var gx = On(gpu, x, dims);
        using var cv = On(Cpu, v, mid); using var gv = On(gpu, v, mid);

        using var cy = On(Cpu, y0, dims); using var gy = On(gpu, y0, dims);
        Cpu.Axpy(-0.625, cx, cy); gpu.Axpy(-0.625, gx, gy);
        AssertClose(cy.ToArray<float>(), gy.ToArray<float>(), 1e-6, 1e-6, "axpy");

        Cpu.AddChannelVector(cx, cv, outer, mid, inner, 1.5, cy); gpu.AddChannelVector(gx, gv, outer, mid, inner, 1.5, gy);
        AssertClose(cy.ToArray<float>(), gy.ToArray<float>(), 1e-6, 1e-6, "add channel vector");

        using var cc = On(Cpu, new float[mid], mid); using var gc = On(gpu, new float[mid], mid);
        Cpu.ChannelSum(cx, outer, mid, inner, 0.5, cc); gpu.ChannelSum(gx, outer, mid, inner, 0.5, gc);
        AssertClose(cc.ToArray<float>(), gc.ToArray<float>(), 1e-4, 1e-4 * Math.Sqrt(outer * inner), "channel sum");

        using var cr = On(Cpu, new float[outer * inner], outer, inner); using var gr = On(gpu, new float[outer * inner], outer, inner);
        Cpu.ReduceSum(cx, outer, mid, inner, -2, cr); gpu.ReduceSum(gx, outer, mid, inner, -2, gr);
        AssertClose(cr.ToArray<float>(), gr.ToArray<float>(), 1e-4, 1e-4 * Math.Sqrt(mid), "reduce sum");

        using var cs = On(Cpu, small, outer, inner); using var gs = On(gpu, small, outer, inner);
        Cpu.Broadcast(cs, outer, mid, inner, 3, cy); gpu.Broadcast(gs, outer, mid, inner, 3, gy);
        AssertClose(cy.ToArray<float>(), gy.ToArray<float>(), 1e-6, 1e-6, "broadcast");

        using var cq = On(Cpu, new float[1], 1); using var gq = On(gpu, new float[1], 1);
        Cpu.SumOfSquares(cx, cq); gpu.SumOfSquares(gx, gq);
        AssertClose(cq.ToArray<float>(), gq.ToArray<float>(), 1e-4, 1e-5, "sum of squares");
    }

    [SkippableTheory]
    [InlineData(1, 1)]
    [InlineData(5, 7)]
    [InlineData(3, 1000)]
    [InlineData(67, 10)]
    public void Softmax_cross_entropy_matches_cpu(int rows, int classes)
    {
        var gpu = Require();
        float[] logits = RandomArray(rows * classes, 71, -5, 5);
        var rng = new Rng(72);
        int[] labels = new int[rows];
        for (int i = 0; i < rows; i++) labels[i] = rng.NextInt(classes);
        using var cl = On(Cpu, logits, rows, classes); using var gl = On(gpu, logits, rows, classes);
        using var cy = On(Cpu, labels, rows); using var gy = On(gpu, labels, rows);
        using var cp = On(Cpu, new float[rows * classes], rows, classes); using var gp = On(gpu, new float[rows * classes], rows, classes);
        using var cm = On(Cpu, new float[1], 1); using var gm = On(gpu, new float[1], 1);
        Cpu.SoftmaxCrossEntropy(cl, cy, cp, cm);
        gpu.SoftmaxCrossEntropy(gl, gy, gp, gm);
        AssertClose(cp.ToArray<float>(), gp.ToArray<float>(), 1e-5, 1e-7, "probabilities");
        AssertClose(cm.ToArray<float>(), gm.ToArray<float>(), 1e-5, 1e-6, "mean loss");
        using var cd = On(Cpu, new float[rows * classes], rows, classes); using var gd = On(gpu, new float[rows * classes], rows, classes);
        Cpu.SoftmaxCrossEntropyBackward(cp, cy, 1.0 / rows, cd);
        gpu.SoftmaxCrossEntropyBackward(gp, gy, 1.0 / rows, gd);
        AssertClose(cd.ToArray<float>(), gd.ToArray<float>(), 1e-5, 1e-7, "dlogits");
    }

    [SkippableTheory]
    [InlineData(1, true)]
    [InlineData(1031, true)]
    [InlineData(70001, true)]
    [InlineData(1031, false)]
    public void Optimizer_updates_match_cpu(int n, bool adapt)
    {
        var gpu = Require();
        float[] w = RandomArray(n, 81), g = RandomArray(n, 82, -0.1, 0.1), m = RandomArray(n, 83, -0.01, 0.01);
        using var cw = On(Cpu, w, n); using var gw = On(gpu, w, n);
        using var cg = On(Cpu, g, n); using var gg = On(gpu, g, n);
        using var cm = On(Cpu, m, n); using var gm = On(gpu, m, n);
        for (int step = 0; step < 3; step++)
        {
            Cpu.LarsUpdate(cw, cg, cm, 0.2, 1e-6, 0.9, 0.001, adapt);
            gpu.LarsUpdate(gw, gg, gm, 0.2, 1e-6, 0.9, 0.001, adapt);
        }
        AssertClose(cw.ToArray<float>(), gw.ToArray<float>(), 1e-5, 1e-6, "lars weight");
        AssertClose(cm.ToArray<float>(), gm.ToArray<float>(), 1e-4, 1e-6, "lars momentum");
        Cpu.SgdUpdate(cw, cg, cm, 0.05, 1e-4, 0.9);
        gpu.SgdUpdate(gw, gg, gm, 0.05, 1e-4, 0.9);
        AssertClose(cw.ToArray<float>(), gw.ToArray<float>(), 1e-5, 1e-6, "sgd weight");
        AssertClose(cm.ToArray<float>(), gm.ToArray<float>(), 1e-4, 1e-6, "sgd momentum");
    }

    [SkippableFact]
    public void Copies_fill_and_pinned_upload_round_trip()
    {
        var gpu = Require();
        int n = 1237;
        float[] x = RandomArray(n, 91);
        using var gx = On(gpu, x, n);
        Assert.Equal(x, gx.ToArray<float>());
        using var gy = On(gpu, new float[n], n);
        gpu.Copy(gx, 5, gy, 100, 200);
        var y = gy.ToArray<float>();
        Assert.Equal(x.AsSpan(5, 200).ToArray(), y.AsSpan(100, 200).ToArray());
        Assert.Equal(0f, y[99]);
        gpu.Fill(gy, -1.25);
        Assert.All(gy.ToArray<float>(), v => Assert.Equal(-1.25f, v));
        using var gi = Tensor.Empty(new Shape(17), DType.Int32, gpu);
        gpu.Fill(gi, -7);
        Assert.All(gi.ToArray<int>(), v => Assert.Equal(-7, v));

        float[] batch = RandomArray(n, 92);
        gpu.UploadAsync(System.Runtime.InteropServices.MemoryMarshal.AsBytes(batch.AsSpan()), gy);
        gpu.Axpy(1, gx, gy); // queued after the upload: must see the uploaded data
        var sum = gy.ToArray<float>();
        for (int i = 0; i < n; i++) Assert.Equal(batch[i] + x[i], sum[i]);
        Assert.False(gpu.Supports(DType.Float64));
    }

    /// <summary>The training loop's pattern: batch k+1's upload is queued before batch k's kernels, which wait for
    /// batch k's upload alone. On the emulation a copy stays queued until an event orders it, so a kernel that did
    /// not wait would read the buffer's previous contents.</summary>
    [SkippableTheory]
    [InlineData(1)]
    [InlineData(1031)]
    public void Overlapped_uploads_reach_the_kernels_that_wait_for_them(int n)
    {
        var gpu = Require();
        const int batches = 5;
        var pairs = new[] { (On(gpu, new float[n], n), On(gpu, new float[n], n)), (On(gpu, new float[n], n), On(gpu, new float[n], n)) };
        using var total = On(gpu, new float[n], n);
        var expected = new double[n];
        Tensor[] Host(int k) => [On(Cpu, RandomArray(n, 200 + (ulong)k), n), On(Cpu, RandomArray(n, 300 + (ulong)k), n)];
        var host = Host(0);
        var pending = gpu.BeginUpload(host, [pairs[0].Item1, pairs[0].Item2]);
        for (int k = 0; k < batches; k++)
        {
            var (a, b) = pairs[k % 2];
            float[] ha = host[0].ToArray<float>(), hb = host[1].ToArray<float>();
            for (int i = 0; i < n; i++) expected[i] += ha[i] + 2.0 * hb[i];
            var next = default(Vicreg.Engine.Backends.PendingUpload);
            if (k + 1 < batches)
            {
                host = Host(k + 1);
                var (na, nb) = pairs[(k + 1) % 2];
                next = gpu.BeginUpload(host, [na, nb]);
            }
            gpu.WaitForUpload(pending);
            gpu.Axpy(1, a, total);
            gpu.Axpy(2, b, total);
            pending = next;
        }
        AssertClose(expected.Select(v => (float)v).ToArray(), total.ToArray<float>(), 1e-5, 1e-5, "sum of the uploaded batches");
        foreach (var (a, b) in pairs) { a.Dispose(); b.Dispose(); }
    }

    [SkippableTheory]
    [InlineData(1)]
    [InlineData(37)]
    public void Fill_diagonal_matches_cpu(int d)
    {
        var gpu = Require();
        float[] m = RandomArray(d * d, 93);
        using var cm = On(Cpu, m, d, d);
        using var gm = On(gpu, m, d, d);
        Cpu.FillDiagonal(cm, 0.5);
        gpu.FillDiagonal(gm, 0.5);
        Assert.Equal(cm.ToArray<float>(), gm.ToArray<float>());
    }

    [SkippableFact]
    public void Allocator_reuses_freed_buffers_and_reports_out_of_memory_with_sizes()
    {
        var gpu = Require();
        var before = gpu.MemoryStatistics;
        nint p = gpu.Allocate(3 << 20);
        gpu.Free(p, 3 << 20);
        nint q = gpu.Allocate(3 << 20);
        gpu.Free(q, 3 << 20);
        Assert.Equal(p, q);
        Assert.True(gpu.MemoryStatistics.CacheHits > before.CacheHits);
        var (_, total) = gpu.DeviceMemory();
        var e = Assert.Throws<Vicreg.Engine.Backends.Cuda.Native.CudaOutOfMemoryException>(() => gpu.Allocate(total * 4));
        Assert.Contains("asked for", e.Message);
        Assert.Contains("free of", e.Message);
    }
}
