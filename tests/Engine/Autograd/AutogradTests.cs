using Vicreg.Engine;
using Vicreg.Engine.Autograd;

namespace Vicreg.Tests.Engine.Autograd;

public class AutogradTests
{
    public AutogradTests() => Tape.Clear();

    /// <summary>A user-defined op with its own forward and hand-written backward: y = x³.</summary>
    private sealed class CubeNode(Tensor x) : Node
    {
        public override string Name => "cube";

        public static Tensor Apply(Tensor x)
        {
            var y = Tensor.EmptyLike(x);
            var src = x.AsSpan<double>();
            var dst = y.AsSpan<double>();
            for (int i = 0; i < src.Length; i++) dst[i] = src[i] * src[i] * src[i];
            return Tape.NeedsGrad(x) ? Tape.Record(new CubeNode(x), y) : y;
        }

        public override void Backward(Tensor dy)
        {
            var dx = Tensor.EmptyLike(x);
            var g = dy.AsSpan<double>();
            var src = x.AsSpan<double>();
            var d = dx.AsSpan<double>();
            for (int i = 0; i < d.Length; i++) d[i] = 3 * src[i] * src[i] * g[i];
            Tape.Accumulate(x, dx);
        }
    }

    [Fact]
    public void CustomFunctionIsChecked()
    {
        var rng = new Rng(20);
        var x = GradCheck.RandomDouble(new Shape(3, 4), ref rng);
        var w = GradCheck.RandomDouble(new Shape(2, 4), ref rng);
        GradCheck.Check(t => Ops.Linear(CubeNode.Apply(t[0]), t[1], null), [x, w]);
    }

    [Fact]
    public void LeafGradientsAccumulateAcrossBackwardCalls()
    {
        var rng = new Rng(21);
        var x = GradCheck.RandomDouble(new Shape(5), ref rng);
        Ops.SumAll(Ops.Square(x)).Backward();
        var first = x.Grad!.ToArray<double>();
        Ops.SumAll(Ops.Square(x)).Backward();
        var second = x.Grad!.ToArray<double>();
        var values = x.ToArray<double>();
        for (int i = 0; i < values.Length; i++)
        {
            Assert.Equal(2 * values[i], first[i], 12);
            Assert.Equal(4 * values[i], second[i], 12);
        }
    }

    [Fact]
    public void NoGradRecordsNothingAndIntermediateGradientsAreFreed()
    {
        var rng = new Rng(22);
        var x = GradCheck.RandomDouble(new Shape(4), ref rng);
        using (Tape.NoGrad())
        {
            var y = Ops.Square(x);
            Assert.False(y.RequiresGrad);
            Assert.Equal(0, Tape.Count);
        }
        var hidden = Ops.Scale(x, 3);
        var loss = Ops.SumAll(Ops.Square(hidden));
        Assert.Equal(3, Tape.Count);
        loss.Backward();
        Assert.Equal(0, Tape.Count);
        Assert.Null(hidden.Grad);
        Assert.Null(hidden.GradFn);
        Assert.NotNull(x.Grad);
    }

    [Fact]
    public void BackwardNeedsAScalarThatDependsOnAParameter()
    {
        var rng = new Rng(23);
        var x = GradCheck.RandomDouble(new Shape(3), ref rng);
        Assert.Throws<InvalidOperationException>(() => Ops.Square(x).Backward());
        Tape.Clear();
        var constant = GradCheck.RandomDouble(new Shape(3), ref rng, requiresGrad: false);
        Assert.Throws<InvalidOperationException>(() => Ops.SumAll(constant).Backward());
    }

    [Fact]
    public void ShapeErrorsNameTheOpAndBothShapes()
    {
        var a = Tensor.Full(new Shape(2, 3), 1.5);
        var b = Tensor.Full(new Shape(4, 5), 2.5);
        var e = Assert.Throws<ShapeMismatchException>(() => Ops.MatMul(a, b));
        Assert.Contains("matmul", e.Message);
        Assert.Contains("[2, 3]", e.Message);
        Assert.Contains("[4, 5]", e.Message);
        e = Assert.Throws<ShapeMismatchException>(() => Ops.Add(a, b));
        Assert.Contains("add", e.Message);
        Assert.Contains("[4, 5]", e.Message);
        var image = Tensor.Full(new Shape(1, 3, 8, 8), 0.5);
        var weight = Tensor.Full(new Shape(4, 2, 3, 3), 0.5);
        e = Assert.Throws<ShapeMismatchException>(() => Ops.Conv2d(image, weight, null, 1, 1));
        Assert.Contains("conv2d", e.Message);
        Assert.Contains("[1, 3, 8, 8]", e.Message);
        Assert.Contains("[4, 2, 3, 3]", e.Message);
        var d = Tensor.Full(new Shape(2, 3), 1.5, DType.Float64);
        e = Assert.Throws<ShapeMismatchException>(() => Ops.Add(a, d));
        Assert.Contains("float64", e.Message);
    }
}
