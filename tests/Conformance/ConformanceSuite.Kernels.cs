using Vicreg.Engine;
using Vicreg.Tests.Reference;
using static Vicreg.Tests.Conformance.ConformanceData;

namespace Vicreg.Tests.Conformance;

/// <summary>
/// Every kernel family of one backend against <see cref="ReferenceBackend"/> (plain loops, float64 sums) on random
/// float32 data at awkward sizes (1, odd, prime; never zeros). A subclass names the backend; the same tests run on
/// each (CPU; CUDA on a device or on the emulation). Tolerances are per family, with the reason beside each.
/// </summary>
public abstract partial class ConformanceSuite
{
    /// <summary>The backend under test (a CUDA subclass skips here when there is no device).</summary>
    protected abstract IBackend Backend { get; }

    private static IBackend Reference => ReferenceBackend.Instance;

    // ---- GEMM: sums of k products, held to the float32 summation bound ----------------------------------------
    [SkippableTheory]
    [InlineData(1, 1, 1, false, false)]
    [InlineData(7, 13, 5, true, false)]
    [InlineData(3, 17, 31, false, true)]
    [InlineData(13, 7, 29, true, true)]
    public void Gemm(int m, int n, int k, bool ta, bool tb)
    {
        var backend = Backend;
        double[] a = Random((long)m * k, 1), b = Random((long)k * n, 2), c = Random((long)m * n, 3);
        int[] aDims = ta ? [k, m] : [m, k], bDims = tb ? [n, k] : [k, n];
        const double alpha = 0.75, beta = -0.5;
        var expected = Run(Reference, aDims, bDims, a, b, c, alpha, beta);
        var magnitude = Run(Reference, aDims, bDims, Abs(a), Abs(b), Abs(c), alpha, -beta);
        var actual = Run(backend, aDims, bDims, a, b, c, alpha, beta);
        AssertWithinSumBound(expected, actual, magnitude, k + 1, "gemm");

        double[] Run(IBackend on, int[] ad, int[] bd, double[] av, double[] bv, double[] cv, double al, double be)
        {
            using var ta_ = On(on, av, ad); using var tb_ = On(on, bv, bd); using var tc = On(on, cv, m, n);
            on.Gemm(ta, tb, al, ta_, tb_, be, tc);
            return Read(tc);
        }
    }

    // ---- convolution: sums of products, held to the float32 summation bound (TF32 is off on the test device) -----
    public static TheoryData<Conv2dGeometry> Convolutions() =>
    [
        new(1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0),
        new(2, 3, 7, 5, 5, 3, 3, 1, 1, 1, 1),
        new(1, 2, 11, 13, 3, 3, 3, 2, 2, 1, 1),
        new(3, 5, 6, 5, 7, 1, 1, 1, 1, 0, 0),
        new(1, 3, 13, 11, 2, 7, 7, 2, 2, 3, 3),
    ];

    [SkippableTheory]
    [MemberData(nameof(Convolutions))]
    public void Convolution(Conv2dGeometry g)
    {
        var backend = Backend;
        double[] x = Random(g.InputShape.Numel, 4), w = Random(g.WeightShape.Numel, 5), dy = Random(g.OutputShape.Numel, 6);
        int[] xd = g.InputShape.ToArray(), wd = g.WeightShape.ToArray(), yd = g.OutputShape.ToArray();

        double[] Forward(IBackend on, double[] xv, double[] wv)
        {
            using var tx = On(on, xv, xd); using var tw = On(on, wv, wd); using var ty = On(on, Random(g.OutputShape.Numel, 7), yd);
            on.Conv2dForward(g, tx, tw, ty);
            return Read(ty);
        }
        double[] BackwardData(IBackend on, double[] dyv, double[] wv)
        {
            using var tdy = On(on, dyv, yd); using var tw = On(on, wv, wd); using var tdx = On(on, Random(g.InputShape.Numel, 8), xd);
            on.Conv2dBackwardData(g, tdy, tw, tdx);
            return Read(tdx);
        }
        double[] BackwardFilter(IBackend on, double[] xv, double[] dyv)
        {
            using var tx = On(on, xv, xd); using var tdy = On(on, dyv, yd); using var tdw = On(on, Random(g.WeightShape.Numel, 9), wd);
            on.Conv2dBackwardFilter(g, tx, tdy, tdw);
            return Read(tdw);
        }

        AssertWithinSumBound(Forward(Reference, x, w), Forward(backend, x, w), Forward(Reference, Abs(x), Abs(w)),
            (long)g.InChannels * g.KernelHeight * g.KernelWidth, "conv forward");
        AssertWithinSumBound(BackwardData(Reference, dy, w), BackwardData(backend, dy, w), BackwardData(Reference, Abs(dy), Abs(w)),
            (long)g.OutChannels * g.KernelHeight * g.KernelWidth, "conv backward data");
        AssertWithinSumBound(BackwardFilter(Reference, x, dy), BackwardFilter(backend, x, dy), BackwardFilter(Reference, Abs(x), Abs(dy)),
            (long)g.Batch * g.OutHeight * g.OutWidth, "conv backward filter");
    }

    // ---- batch normalization ------------------------------------------------------------------------------------
    /// <summary>Per-channel statistics over m = N inner values (float32 sums on CUDA, double on the CPU), then
    /// normalized outputs of order 1 that multiply the statistics' error by invstd (about 2 on this data):
    /// 1e-4 relative + absolute is some 100 roundings of slack, while an indexing mistake is an error of order 1.</summary>
    private const double BatchNormTolerance = 1e-4;

    [SkippableTheory]
    [InlineData(2, 1, 1, true)]
    [InlineData(3, 5, 7, true)]
    [InlineData(17, 3, 1, false)]
    [InlineData(2, 13, 1, true)]
    [InlineData(5, 2, 11, false)]
    public void BatchNorm(int outer, int channels, int inner, bool affine)
    {
        var backend = Backend;
        int[] dims = inner == 1 ? [outer, channels] : [outer, channels, inner];
        long n = (long)outer * channels * inner;
        double[] x = Random(n, 10), dy = Random(n, 11), gamma = Random(channels, 12), beta = Random(channels, 13);
        double[] runningMean = Random(channels, 14), runningVar = Positive(channels, 15);

        double[][] Run(IBackend on)
        {
            using var tx = On(on, x, dims); using var tdy = On(on, dy, dims);
            using var tg = On(on, gamma, channels); using var tb = On(on, beta, channels);
            using var rm = On(on, runningMean, channels); using var rv = On(on, runningVar, channels);
            using var y = On(on, Random(n, 16), dims); using var yEval = On(on, Random(n, 17), dims); using var dx = On(on, Random(n, 18), dims);
            using var mean = On(on, Random(channels, 19), channels); using var invStd = On(on, Random(channels, 20), channels);
            using var dg = On(on, Random(channels, 21), channels); using var db = On(on, Random(channels, 22), channels);
            on.BatchNormTraining(tx, affine ? tg : null, affine ? tb : null, rm, rv, 0.1, 1e-5, y, mean, invStd);
            on.BatchNormInference(tx, affine ? tg : null, affine ? tb : null, rm, rv, 1e-5, yEval);
            on.BatchNormBackward(tx, tdy, affine ? tg : null, mean, invStd, dx, dg, db);
            return [Read(y), Read(mean), Read(invStd), Read(rm), Read(rv), Read(yEval), Read(dx), Read(dg), Read(db)];
        }

        var expected = Run(Reference);
        var actual = Run(backend);
        string[] names = ["y", "saveMean", "saveInvStd", "runningMean", "runningVar", "inference y", "dx", "dgamma", "dbeta"];
        for (int i = 0; i < names.Length; i++) AssertClose(expected[i], actual[i], BatchNormTolerance, BatchNormTolerance, "batch norm " + names[i]);
    }

    /// <summary>The fused batch norm + ReLU, forward and backward, against the reference's definition.</summary>
    [SkippableTheory]
    [InlineData(2, 1, 1, true)]
    [InlineData(3, 5, 7, true)]
    [InlineData(17, 3, 1, false)]
    [InlineData(1, 13, 49, true)]
    [InlineData(5, 2, 11, false)]
    public void BatchNormRelu(int outer, int channels, int inner, bool affine)
    {
        var backend = Backend;
        int[] dims = inner == 1 ? [outer, channels] : [outer, channels, inner];
        long n = (long)outer * channels * inner;
        double[] x = Random(n, 30), dy = Random(n, 31), gamma = Random(channels, 32), beta = Random(channels, 33);
        double[] runningMean = Random(channels, 34), runningVar = Positive(channels, 35);

        double[][] Run(IBackend on)
        {
            using var tx = On(on, x, dims); using var tdy = On(on, dy, dims);
            using var tg = On(on, gamma, channels); using var tb = On(on, beta, channels);
            using var rm = On(on, runningMean, channels); using var rv = On(on, runningVar, channels);
            using var y = On(on, Random(n, 36), dims); using var dx = On(on, Random(n, 37), dims);
            using var mean = On(on, Random(channels, 38), channels); using var invStd = On(on, Random(channels, 39), channels);
            using var dg = On(on, Random(channels, 40), channels); using var db = On(on, Random(channels, 41), channels);
            on.BatchNormReluTraining(tx, affine ? tg : null, affine ? tb : null, rm, rv, 0.1, 1e-5, y, mean, invStd);
            on.BatchNormReluBackward(tx, y, tdy, affine ? tg : null, mean, invStd, dx, dg, db);
            return [Read(y), Read(mean), Read(invStd), Read(rm), Read(rv), Read(dx), Read(dg), Read(db)];
        }

        var expected = Run(Reference);
        var actual = Run(backend);
        string[] names = ["y", "saveMean", "saveInvStd", "runningMean", "runningVar", "dx", "dgamma", "dbeta"];
        for (int i = 0; i < names.Length; i++) AssertClose(expected[i], actual[i], BatchNormTolerance, BatchNormTolerance, "batch norm + relu " + names[i]);
    }

    // ---- max pooling: the maximum and its index are exact; dx sums at most a few dy per element -------------------
    [SkippableTheory]
    [InlineData(1, 1, 1, 1, 1, 1, 0)]
    [InlineData(2, 3, 7, 9, 3, 2, 1)]
    [InlineData(1, 2, 13, 11, 2, 2, 0)]
    [InlineData(3, 1, 5, 5, 3, 1, 1)]
    public void MaxPool(int batch, int channels, int h, int w, int k, int s, int p)
    {
        var backend = Backend;
        var g = new Pool2dGeometry(batch, channels, h, w, k, k, s, s, p, p);
        double[] x = Random(g.InputShape.Numel, 23), dy = Random(g.OutputShape.Numel, 24);
        int[] xd = g.InputShape.ToArray(), yd = g.OutputShape.ToArray();

        double[][] Run(IBackend on, double[] dyv)
        {
            using var tx = On(on, x, xd); using var y = On(on, Random(g.OutputShape.Numel, 25), yd);
            using var argmax = On(on, new int[g.OutputShape.Numel], yd);
            using var tdy = On(on, dyv, yd); using var dx = On(on, Random(g.InputShape.Numel, 26), xd);
            on.MaxPool2dForward(g, tx, y, argmax);
            on.MaxPool2dBackward(g, tdy, argmax, dx);
            return [Read(y), Read(argmax), Read(dx)];
        }

        var expected = Run(Reference, dy);
        var actual = Run(backend, dy);
        AssertClose(expected[0], actual[0], 0, 0, "max pool y");
        AssertClose(expected[1], actual[1], 0, 0, "max pool argmax");
        int overlap = (k + s - 1) / s * ((k + s - 1) / s);
        AssertWithinSumBound(expected[2], actual[2], Run(Reference, Abs(dy))[2], overlap, "max pool dx");
    }

    // ---- elementwise ------------------------------------------------------------------------------------------------
    /// <summary>One correctly rounded operation per element, except exp and log, which the CPU evaluates with vector
    /// polynomials and CUDA with expf/logf (a few ulp each): 4e-6 relative is some 60 ulp; the absolute 1e-7 covers
    /// results near zero (log of values near 1, a scaled difference).</summary>
    private const double ElementwiseRelative = 4e-6, ElementwiseAbsolute = 1e-7;

    [SkippableTheory]
    [InlineData(UnaryOp.Copy, 1)]
    [InlineData(UnaryOp.Scale, 17)]
    [InlineData(UnaryOp.AddScalar, 257)]
    [InlineData(UnaryOp.Square, 31)]
    [InlineData(UnaryOp.Sqrt, 1031)]
    [InlineData(UnaryOp.Relu, 257)]
    [InlineData(UnaryOp.Hinge, 257)]
    [InlineData(UnaryOp.Exp, 1031)]
    [InlineData(UnaryOp.Log, 1031)]
    [InlineData(UnaryOp.Reciprocal, 13)]
    [InlineData(UnaryOp.Tanh, 1031)]
    [InlineData(UnaryOp.Pow, 31)]
    [InlineData(UnaryOp.Gelu, 257)]
    public void Unary(UnaryOp op, int n)
    {
        var backend = Backend;
        double[] x = op is UnaryOp.Sqrt or UnaryOp.Log or UnaryOp.Pow ? Positive(n, 27) : Random(n, 27);
        double[] Run(IBackend on)
        {
            using var tx = On(on, x, n); using var y = On(on, Random(n, 28), n);
            on.Unary(op, tx, y, 0.375);
            return Read(y);
        }
        AssertClose(Run(Reference), Run(backend), ElementwiseRelative, ElementwiseAbsolute, $"unary {op}");
    }

    [SkippableTheory]
    [InlineData(BinaryOp.Add, 1)]
    [InlineData(BinaryOp.Sub, 17)]
    [InlineData(BinaryOp.Mul, 257)]
    [InlineData(BinaryOp.Div, 31)]
    [InlineData(BinaryOp.ReluBackward, 257)]
    [InlineData(BinaryOp.HingeBackward, 1031)]
    [InlineData(BinaryOp.Maximum, 17)]
    [InlineData(BinaryOp.Minimum, 257)]
    [InlineData(BinaryOp.MaxGradientShare, 31)]
    [InlineData(BinaryOp.SelectNonZero, 13)]
    [InlineData(BinaryOp.SelectZero, 13)]
    [InlineData(BinaryOp.TanhBackward, 257)]
    [InlineData(BinaryOp.GeluBackward, 1031)]
    public void Binary(BinaryOp op, int n)
    {
        var backend = Backend;
        double[] a = Random(n, 29), b = Random(n, 30);
        double[] Run(IBackend on)
        {
            using var ta = On(on, a, n); using var tb = On(on, b, n); using var y = On(on, Random(n, 31), n);
            on.Binary(op, ta, tb, y, 0.3);
            return Read(y);
        }
        AssertClose(Run(Reference), Run(backend), ElementwiseRelative, ElementwiseAbsolute, $"binary {op}");
    }

    public static TheoryData<int, int, int> Layouts() => new() { { 1, 1, 1 }, { 3, 5, 7 }, { 2, 13, 1 }, { 1, 17, 3 }, { 7, 3, 37 } };

    /// <summary>Axpy, a per-channel vector and a copy along one axis: at most two roundings per element.</summary>
    [SkippableTheory]
    [MemberData(nameof(Layouts))]
    public void BroadcastingKernels(int outer, int mid, int inner)
    {
        var backend = Backend;
        long n = (long)outer * mid * inner;
        double[] x = Random(n, 32), y0 = Random(n, 33), v = Random(mid, 34), rows = Random((long)outer * inner, 35);
        double[][] Run(IBackend on)
        {
            using var tx = On(on, x, (int)n); using var axpy = On(on, y0, (int)n);
            using var tv = On(on, v, mid); using var added = On(on, Random(n, 36), (int)n);
            using var trows = On(on, rows, outer * inner); using var spread = On(on, Random(n, 37), (int)n);
            on.Axpy(-0.625, tx, axpy);
            on.AddChannelVector(tx, tv, outer, mid, inner, 1.5, added);
            on.Broadcast(trows, outer, mid, inner, -0.75, spread);
            return [Read(axpy), Read(added), Read(spread)];
        }
        var expected = Run(Reference);
        var actual = Run(backend);
        AssertClose(expected[0], actual[0], ElementwiseRelative, ElementwiseAbsolute, "axpy");
        AssertClose(expected[1], actual[1], ElementwiseRelative, ElementwiseAbsolute, "add channel vector");
        AssertClose(expected[2], actual[2], ElementwiseRelative, ElementwiseAbsolute, "broadcast");
    }

    // ---- reductions: sums, held to the float32 summation bound -----------------------------------------------------
    [SkippableTheory]
    [MemberData(nameof(Layouts))]
    public void Reductions(int outer, int mid, int inner)
    {
        var backend = Backend;
        long n = (long)outer * mid * inner;
        double[] x = Random(n, 38);
        double[][] Run(IBackend on, double[] xv)
        {
            using var tx = On(on, xv, (int)n);
            using var channels = On(on, Random(mid, 39), mid); using var reduced = On(on, Random((long)outer * inner, 40), outer * inner);
            using var squares = On(on, Random(1, 41), 1);
            on.ChannelSum(tx, outer, mid, inner, 0.5, channels);
            on.ReduceSum(tx, outer, mid, inner, -2, reduced);
            on.SumOfSquares(tx, squares);
            return [Read(channels), Read(reduced), Read(squares)];
        }
        var expected = Run(Reference, x);
        var actual = Run(backend, x);
        var magnitude = Run(Reference, Abs(x));
        AssertWithinSumBound(expected[0], actual[0], magnitude[0], (long)outer * inner, "channel sum");
        AssertWithinSumBound(expected[1], actual[1], magnitude[1], mid, "reduce sum");
        AssertWithinSumBound(expected[2], actual[2], magnitude[2], n, "sum of squares");
    }

    // ---- softmax cross-entropy -------------------------------------------------------------------------------------
    /// <summary>exp of shifted logits (a few ulp, see the elementwise tolerance), a row sum of at most 31 terms and
    /// one division: 2e-5 relative; the loss is a mean of logs of such sums.</summary>
    private const double CrossEntropyTolerance = 2e-5;

    [SkippableTheory]
    [InlineData(1, 1)]
    [InlineData(1, 2)]
    [InlineData(7, 5)]
    [InlineData(13, 31)]
    public void SoftmaxCrossEntropy(int rows, int classes)
    {
        var backend = Backend;
        double[] logits = Random((long)rows * classes, 42, scale: 4);
        var rng = new Rng(43);
        var labels = new int[rows];
        for (int r = 0; r < rows; r++) labels[r] = rng.NextInt(classes);
        double[][] Run(IBackend on)
        {
            using var tl = On(on, logits, rows, classes); using var tlab = On(on, labels, rows);
            using var p = On(on, Random((long)rows * classes, 44), rows, classes); using var loss = On(on, Random(1, 45), 1);
            using var d = On(on, Random((long)rows * classes, 46), rows, classes);
            on.SoftmaxCrossEntropy(tl, tlab, p, loss);
            on.SoftmaxCrossEntropyBackward(p, tlab, 1.0 / rows, d);
            return [Read(p), Read(loss), Read(d)];
        }
        var expected = Run(Reference);
        var actual = Run(backend);
        AssertClose(expected[0], actual[0], CrossEntropyTolerance, 1e-7, "softmax probabilities");
        AssertClose(expected[1], actual[1], CrossEntropyTolerance, 1e-6, "mean loss");
        AssertClose(expected[2], actual[2], CrossEntropyTolerance, 1e-7, "dlogits");
    }

    // ---- optimizer updates -----------------------------------------------------------------------------------------
    /// <summary>A few roundings per element; w - lr m cancels little (lr m is a tenth of w), and LARS's trust ratio
    /// comes from two float32 norms (sums of n squares on CUDA): 1e-5 relative + 1e-6 absolute.</summary>
    private const double OptimizerRelative = 1e-5, OptimizerAbsolute = 1e-6;

    [SkippableTheory]
    [InlineData(1, false)]
    [InlineData(1, true)]
    [InlineData(37, true)]
    [InlineData(1031, false)]
    [InlineData(1031, true)]
    public void OptimizerUpdates(int n, bool adapt)
    {
        var backend = Backend;
        double[] w = Random(n, 47), g = Random(n, 48, scale: 0.1), m = Random(n, 49, scale: 0.1);
        double[][] Run(IBackend on)
        {
            using var sw = On(on, w, n); using var sg = On(on, g, n); using var sm = On(on, m, n);
            using var lw = On(on, w, n); using var lg = On(on, g, n); using var lm = On(on, m, n);
            on.SgdUpdate(sw, sg, sm, 0.1, 1e-4, 0.9);
            on.LarsUpdate(lw, lg, lm, 0.2, 1e-3, 0.9, 0.02, adapt);
            return [Read(sw), Read(sm), Read(lw), Read(lm)];
        }
        var expected = Run(Reference);
        var actual = Run(backend);
        string[] names = ["sgd weight", "sgd momentum", "lars weight", "lars momentum"];
        for (int i = 0; i < names.Length; i++) AssertClose(expected[i], actual[i], OptimizerRelative, OptimizerAbsolute, names[i]);
    }

    // ---- copies and fills: exact ------------------------------------------------------------------------------------
    [SkippableTheory]
    [InlineData(1)]
    [InlineData(5)]
    [InlineData(13)]
    public void CopiesAndFills(int d)
    {
        var backend = Backend;
        double[] source = Random((long)d * d, 50), matrix = Random((long)d * d, 51);
        double[][] Run(IBackend on)
        {
            using var s = On(on, source, d * d); using var m = On(on, matrix, d, d); using var filled = On(on, source, d * d);
            using var flat = m.View(new Shape(d * d));
            on.Copy(s, d / 2, flat, d / 3, d * d - d / 2 - d / 3);
            on.FillDiagonal(m, -0.5);
            on.Fill(filled, 0.25);
            return [Read(m), Read(filled)];
        }
        var expected = Run(Reference);
        var actual = Run(backend);
        AssertClose(expected[0], actual[0], 0, 0, "copy then fill diagonal");
        AssertClose(expected[1], actual[1], 0, 0, "fill");
    }
}
