using Vicreg.Engine;
using Vicreg.Engine.Autograd;

namespace Vicreg.Tests.Engine;

/// <summary>Every differentiable op's backward against central finite differences in float64, at awkward sizes.</summary>
public class OpGradientTests
{
    private static Tensor R(ref Rng rng, params int[] dims) => GradCheck.RandomDouble(new Shape(dims), ref rng);

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void MatMul(bool ta, bool tb)
    {
        var rng = new Rng(1);
        int m = 3, k = 5, n = 2;
        var a = ta ? R(ref rng, k, m) : R(ref rng, m, k);
        var b = tb ? R(ref rng, n, k) : R(ref rng, k, n);
        GradCheck.Check(x => Ops.MatMul(x[0], x[1], ta, tb), [a, b]);
    }

    [Theory]
    [InlineData(1, 1, 1, true)]
    [InlineData(3, 7, 5, true)]
    [InlineData(4, 9, 2, false)]
    public void Linear(int n, int inF, int outF, bool bias)
    {
        var rng = new Rng(2);
        var x = R(ref rng, n, inF);
        var w = R(ref rng, outF, inF);
        var b = R(ref rng, outF);
        b.RequiresGrad = bias; // an unused bias gets no gradient
        GradCheck.Check(t => Ops.Linear(t[0], t[1], bias ? t[2] : null), [x, w, b]);
    }

    [Theory]
    [InlineData(1, 1, 5, 5, 1, 3, 1, 1, true)]
    [InlineData(2, 3, 7, 6, 4, 3, 2, 1, true)]
    [InlineData(2, 2, 5, 5, 3, 1, 1, 0, false)]
    [InlineData(1, 2, 9, 9, 2, 7, 2, 3, false)]
    [InlineData(3, 2, 4, 5, 2, 1, 2, 0, true)]
    public void Conv2d(int n, int c, int h, int w, int k, int kernel, int stride, int pad, bool bias)
    {
        var rng = new Rng(3);
        var x = R(ref rng, n, c, h, w);
        var weight = R(ref rng, k, c, kernel, kernel);
        var b = R(ref rng, k);
        b.RequiresGrad = bias;
        GradCheck.Check(t => Ops.Conv2d(t[0], t[1], bias ? t[2] : null, stride, pad), [x, weight, b]);
    }

    [Theory]
    [InlineData(new[] { 5, 3 }, true)]
    [InlineData(new[] { 2, 1 }, false)]
    [InlineData(new[] { 3, 2, 3, 2 }, true)]
    [InlineData(new[] { 2, 3, 1, 1 }, false)]
    [InlineData(new[] { 1, 2, 3, 3 }, true)]
    public void BatchNormTraining(int[] shape, bool affine)
    {
        var rng = new Rng(4);
        var x = R(ref rng, shape);
        // Scale the input away from unit statistics so that a missing term would show.
        int c = shape[1];
        var gamma = GradCheck.RandomDouble(new Shape(c), ref rng, 0.5, 1.5);
        var beta = R(ref rng, c);
        Tensor[] inputs = affine ? [x, gamma, beta] : [x];
        GradCheck.Check(t => Ops.BatchNorm(t[0], affine ? t[1] : null, affine ? t[2] : null, null, null, training: true), inputs);
    }

    [Fact]
    public void BatchNormEvaluation()
    {
        var rng = new Rng(5);
        var x = R(ref rng, 3, 2, 2, 2);
        var gamma = GradCheck.RandomDouble(new Shape(2), ref rng, 0.5, 1.5, requiresGrad: false);
        var beta = GradCheck.RandomDouble(new Shape(2), ref rng, requiresGrad: false);
        var mean = GradCheck.RandomDouble(new Shape(2), ref rng, requiresGrad: false);
        var variance = GradCheck.RandomDouble(new Shape(2), ref rng, 0.5, 2, requiresGrad: false);
        GradCheck.Check(t => Ops.BatchNorm(t[0], gamma, beta, mean, variance, training: false), [x]);
    }

    [Theory]
    [InlineData(new[] { 3, 2, 2, 2 })]
    [InlineData(new[] { 5, 3 })]
    [InlineData(new[] { 1, 1, 1, 1 })]
    public void BatchNormEvaluationGivesEveryInputAGradient(int[] shape)
    {
        var rng = new Rng(45);
        int c = shape[1];
        var x = R(ref rng, shape);
        var gamma = GradCheck.RandomDouble(new Shape(c), ref rng, 0.5, 1.5);
        var beta = R(ref rng, c);
        var mean = R(ref rng, c);
        var variance = GradCheck.RandomDouble(new Shape(c), ref rng, 0.5, 2);
        GradCheck.Check(t => Ops.BatchNorm(t[0], t[1], t[2], t[3], t[4], training: false), [x, gamma, beta, mean, variance]);
        GradCheck.Check(t => Ops.BatchNorm(t[0], null, null, t[1], t[2], training: false), [x, mean, variance]);

        // The composite (taken when a gradient is needed) computes what the fused kernel computes without one.
        using var scope = TensorScope.Begin();
        var composed = Ops.BatchNorm(x, gamma, beta, mean, variance, training: false).ToArray<double>();
        Tape.Clear();
        double[] fused;
        using (Tape.NoGrad()) fused = Ops.BatchNorm(x, gamma, beta, mean, variance, training: false).ToArray<double>();
        for (int i = 0; i < fused.Length; i++) Assert.Equal(fused[i], composed[i], 1e-12);
    }

    [Fact]
    public void Relu()
    {
        var rng = new Rng(6);
        var x = R(ref rng, 4, 7);
        NudgeAwayFromZero(x);
        GradCheck.Check(t => Ops.Relu(t[0]), [x]);
    }

    [Theory]
    [InlineData(3, 2, 1)]
    [InlineData(3, 2, 0)]
    [InlineData(2, 2, 0)]
    [InlineData(3, 1, 1)]
    public void MaxPool2d(int kernel, int stride, int pad)
    {
        var rng = new Rng(7);
        var x = R(ref rng, 2, 3, 7, 6);
        // Distinct values, far apart compared with the finite-difference step, so the argmax is stable.
        var v = x.AsSpan<double>();
        var order = Enumerable.Range(0, v.Length).ToArray();
        rng.Shuffle(order);
        for (int i = 0; i < v.Length; i++) v[i] = order[i] * 0.01 - 1;
        GradCheck.Check(t => Ops.MaxPool2d(t[0], kernel, stride, pad), [x]);
    }

    [Fact]
    public void GlobalAvgPool()
    {
        var rng = new Rng(8);
        GradCheck.Check(t => Ops.GlobalAvgPool(t[0]), [R(ref rng, 2, 3, 5, 3)]);
    }

    [Fact]
    public void Arithmetic()
    {
        var rng = new Rng(9);
        var a = R(ref rng, 3, 5);
        var b = R(ref rng, 3, 5);
        GradCheck.Check(t => Ops.Add(t[0], t[1]), [a, b]);
        GradCheck.Check(t => Ops.Sub(t[0], t[1]), [a, b]);
        GradCheck.Check(t => Ops.Mul(t[0], t[1]), [a, b]);
        GradCheck.Check(t => Ops.Scale(t[0], -2.5), [a]);
        GradCheck.Check(t => Ops.AddScalar(t[0], 0.75), [a]);
        GradCheck.Check(t => Ops.Square(t[0]), [a]);
        // The same tensor on both sides: both contributions must accumulate into one gradient.
        GradCheck.Check(t => Ops.Mul(t[0], t[0]), [a]);
    }

    [Fact]
    public void SqrtAndHinge()
    {
        var rng = new Rng(10);
        var positive = GradCheck.RandomDouble(new Shape(2, 7), ref rng, 0.2, 3);
        GradCheck.Check(t => Ops.Sqrt(t[0]), [positive]);
        var around = GradCheck.RandomDouble(new Shape(11), ref rng, 0.2, 1.8);
        foreach (ref var v in around.AsSpan<double>()) if (Math.Abs(v - 1) < 0.01) v += 0.05;
        GradCheck.Check(t => Ops.Hinge(t[0], 1.0), [around]);
    }

    private static Tensor Positive(ref Rng rng, params int[] dims) => GradCheck.RandomDouble(new Shape(dims), ref rng, 0.3, 2.5);

    [Theory]
    [InlineData(new[] { 1 })]
    [InlineData(new[] { 3, 5 })]
    [InlineData(new[] { 13 })]
    public void ExpLogReciprocalTanhAndDiv(int[] shape)
    {
        var rng = new Rng(40);
        var mixed = GradCheck.RandomDouble(new Shape(shape), ref rng, -2, 2);
        // log, 1/x and a divisor are checked on positive values well away from 0.
        var positive = Positive(ref rng, shape);
        GradCheck.Check(t => Ops.Exp(t[0]), [mixed]);
        GradCheck.Check(t => Ops.Log(t[0]), [positive]);
        GradCheck.Check(t => Ops.Reciprocal(t[0]), [positive]);
        GradCheck.Check(t => Ops.Tanh(t[0]), [mixed]);
        GradCheck.Check(t => Ops.Div(t[0], t[1]), [mixed, positive]);
        // The same tensor as numerator and divisor: both rules accumulate into one gradient (which is 0).
        GradCheck.Check(t => Ops.Div(t[0], t[0]), [positive]);
    }

    [Theory]
    [InlineData(3.0, false)]
    [InlineData(2.0, false)]
    [InlineData(0.5, true)]
    [InlineData(-1.5, true)]
    [InlineData(1.0, false)]
    public void PowByAScalar(double exponent, bool positiveOnly)
    {
        var rng = new Rng(41);
        var x = positiveOnly ? Positive(ref rng, 3, 7) : GradCheck.RandomDouble(new Shape(3, 7), ref rng, -2, 2);
        GradCheck.Check(t => Ops.Pow(t[0], exponent), [x]);
    }

    [Fact]
    public void PowByZeroHasAZeroGradientEvenAtZero()
    {
        var x = Tensor.FromArray<double>([0.0, -1.5, 2.0], new Shape(3));
        x.RequiresGrad = true;
        Ops.SumAll(Ops.Pow(x, 0)).Backward();
        Assert.Equal([0.0, 0.0, 0.0], x.Grad!.ToArray<double>());
    }

    [Theory]
    [InlineData(new[] { 1 })]
    [InlineData(new[] { 5, 3 })]
    [InlineData(new[] { 17 })]
    public void MaximumAndMinimum(int[] shape)
    {
        var rng = new Rng(42);
        var a = R(ref rng, shape);
        var b = R(ref rng, shape);
        // No pair closer than the finite-difference step can cross: the derivative is defined everywhere checked.
        var av = a.AsSpan<double>();
        var bv = b.AsSpan<double>();
        for (int i = 0; i < av.Length; i++) while (Math.Abs(av[i] - bv[i]) < 0.01) av[i] += 0.05;
        GradCheck.Check(t => Ops.Maximum(t[0], t[1]), [a, b]);
        GradCheck.Check(t => Ops.Minimum(t[0], t[1]), [a, b]);
    }

    [Fact]
    public void MaximumAndMinimumSplitTheGradientEvenlyAtTies()
    {
        // The expected gradients are torch 1.13's for the same inputs (torch.maximum / torch.minimum, then sum().backward()).
        foreach (var (minimum, expectedA, expectedB) in new[] { (false, new[] { 0.5, 1, 0 }, new[] { 0.5, 0, 1 }), (true, new[] { 0.5, 0, 1 }, new[] { 0.5, 1, 0 }) })
        {
            var a = Tensor.FromArray<double>([1, 2, 3], new Shape(3));
            var b = Tensor.FromArray<double>([1, 1, 4], new Shape(3));
            a.RequiresGrad = b.RequiresGrad = true;
            Ops.SumAll(minimum ? Ops.Minimum(a, b) : Ops.Maximum(a, b)).Backward();
            Assert.Equal(expectedA, a.Grad!.ToArray<double>());
            Assert.Equal(expectedB, b.Grad!.ToArray<double>());
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(23)]
    public void WhereRoutesEachGradientToTheChosenInput(int n)
    {
        var rng = new Rng(43);
        var a = R(ref rng, n, 2);
        var b = R(ref rng, n, 2);
        // A condition with both kinds of entry (zero, and non-zero of either sign), fixed for the whole check.
        var picks = new double[2 * n];
        for (int i = 0; i < picks.Length; i++) picks[i] = (i % 3) switch { 0 => 0, 1 => -0.5, _ => 2 };
        var condition = Tensor.FromArray<double>(picks, new Shape(n, 2));
        GradCheck.Check(t => Ops.Where(condition, t[0], t[1]), [a, b]);
        var y = Ops.Where(condition, a, b).ToArray<double>();
        var (av, bv) = (a.ToArray<double>(), b.ToArray<double>());
        for (int i = 0; i < picks.Length; i++) Assert.Equal(picks[i] != 0 ? av[i] : bv[i], y[i]);
    }

    [Fact]
    public void PrimitivesCompose()
    {
        // exp(a) / (2 + tanh(b)) + log(max(a², b²) + 1) - min(a, b)^3: every new primitive's rule, chained.
        var rng = new Rng(44);
        var a = R(ref rng, 4, 5);
        var b = R(ref rng, 4, 5);
        NudgeApart(a, b);
        GradCheck.Check(t =>
        {
            var ratio = Ops.Div(Ops.Exp(t[0]), Ops.AddScalar(Ops.Tanh(t[1]), 2));
            var logTerm = Ops.Log(Ops.AddScalar(Ops.Maximum(Ops.Square(t[0]), Ops.Pow(t[1], 2)), 1));
            return Ops.Sub(Ops.Add(ratio, logTerm), Ops.Pow(Ops.Minimum(t[0], t[1]), 3));
        }, [a, b]);
    }

    private static void NudgeApart(Tensor a, Tensor b)
    {
        var av = a.AsSpan<double>();
        var bv = b.AsSpan<double>();
        for (int i = 0; i < av.Length; i++)
            while (Math.Abs(av[i] - bv[i]) < 0.02 || Math.Abs(Math.Abs(av[i]) - Math.Abs(bv[i])) < 0.02) av[i] += 0.1;
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(-1)]
    public void SumAndMeanAlongAxis(int axis)
    {
        var rng = new Rng(11);
        var x = R(ref rng, 2, 3, 5);
        GradCheck.Check(t => Ops.Sum(t[0], axis), [x]);
        GradCheck.Check(t => Ops.Mean(t[0], axis), [x]);
    }

    [Fact]
    public void SumAllAndMeanAll()
    {
        var rng = new Rng(12);
        var x = R(ref rng, 3, 7);
        GradCheck.Check(t => Ops.Reshape(Ops.SumAll(t[0]), new Shape(1)), [x]);
        GradCheck.Check(t => Ops.Reshape(Ops.MeanAll(t[0]), new Shape(1)), [x]);
    }

    [Fact]
    public void ShapeOps()
    {
        var rng = new Rng(13);
        var a = R(ref rng, 2, 3, 2);
        var b = R(ref rng, 3, 3, 2);
        GradCheck.Check(t => Ops.Concat(t[0], t[1]), [a, b]);
        GradCheck.Check(t => Ops.Slice(t[0], 1, 2), [b]);
        GradCheck.Check(t => Ops.Flatten(t[0]), [a]);
        // A slice of a concat, squared: gradient flows back through both into the right rows.
        GradCheck.Check(t => Ops.Square(Ops.Slice(Ops.Concat(t[0], t[1]), 1, 3)), [a, b]);
    }

    [Fact]
    public void AddChannelVector()
    {
        var rng = new Rng(14);
        var x = R(ref rng, 3, 4, 2, 2);
        var v = R(ref rng, 4);
        GradCheck.Check(t => Ops.AddChannelVector(t[0], t[1], -0.5), [x, v]);
        var rows = R(ref rng, 5, 3);
        var columns = R(ref rng, 3);
        GradCheck.Check(t => Ops.AddChannelVector(t[0], t[1]), [rows, columns]);
    }

    [Fact]
    public void CrossEntropy()
    {
        var rng = new Rng(15);
        var logits = GradCheck.RandomDouble(new Shape(5, 7), ref rng, -3, 3);
        var labels = Tensor.FromArray<int>([0, 6, 3, 3, 1], new Shape(5));
        GradCheck.Check(t => Ops.Reshape(Ops.CrossEntropy(t[0], labels), new Shape(1)), [logits]);
    }

    [Fact]
    public void SmallResidualNetworkEndToEnd()
    {
        // conv → bn → relu → conv → bn, plus the block's input, → relu → pool → linear → cross-entropy.
        var rng = new Rng(16);
        var x = R(ref rng, 2, 2, 5, 5);
        var w1 = R(ref rng, 2, 2, 3, 3);
        var w2 = R(ref rng, 2, 2, 3, 3);
        var g = GradCheck.RandomDouble(new Shape(2), ref rng, 0.5, 1.5);
        var fc = R(ref rng, 3, 2);
        var labels = Tensor.FromArray<int>([2, 0], new Shape(2));
        GradCheck.Check(t =>
        {
            var h = Ops.Relu(Ops.BatchNorm(Ops.Conv2d(t[0], t[1], null, 1, 1), t[3], null, null, null, true));
            h = Ops.BatchNorm(Ops.Conv2d(h, t[2], null, 1, 1), t[3], null, null, null, true);
            h = Ops.Relu(Ops.Add(h, t[0]));
            var logits = Ops.Linear(Ops.GlobalAvgPool(h), t[4], null);
            return Ops.Reshape(Ops.CrossEntropy(logits, labels), new Shape(1));
        }, [x, w1, w2, g, fc], tolerance: 1e-5);
    }

    private static void NudgeAwayFromZero(Tensor x)
    {
        foreach (ref var v in x.AsSpan<double>()) if (Math.Abs(v) < 0.01) v = v < 0 ? -0.05 : 0.05;
    }
}
