using Vicreg.Engine.Autograd;

namespace Vicreg.Engine;

public static partial class Ops
{
    /// <summary>Max pooling of x [N, C, H, W] with a square window (padding counts as -infinity).</summary>
    public static Tensor MaxPool2d(Tensor x, int kernel, int stride, int padding)
    {
        const string op = "max_pool2d";
        Floating(op, x);
        ShapeMismatchException.Require(x.Rank == 4, op, "input must be [N, C, H, W]", x);
        if (kernel < 1 || stride < 1 || padding < 0 || 2 * padding > kernel)
            throw new ShapeMismatchException($"{op}: kernel {kernel}, stride {stride}, padding {padding} (padding must be at most half the kernel)");
        var g = new Pool2dGeometry(x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3], kernel, kernel, stride, stride, padding, padding);
        if (g.OutHeight < 1 || g.OutWidth < 1) throw new ShapeMismatchException($"{op}: a {kernel}x{kernel} window does not fit (got {x.Shape})");
        var y = New(x, g.OutputShape);
        var argmax = Tensor.Empty(g.OutputShape, DType.Int32, x.Backend);
        x.Backend.MaxPool2dForward(g, x, y, argmax);
        if (!Tape.NeedsGrad(x))
        {
            argmax.Dispose();
            return y;
        }
        return Tape.Record(MaxPoolNode.Of(g, x, argmax), y);
    }

    private sealed class MaxPoolNode : PooledNode<MaxPoolNode>
    {
        private Pool2dGeometry _g;
        private Tensor _x = null!, _argmax = null!;

        public static MaxPoolNode Of(Pool2dGeometry g, Tensor x, Tensor argmax)
        {
            var node = Rent();
            (node._g, node._x, node._argmax) = (g, x, argmax);
            return node;
        }

        protected override void Clear() => (_x, _argmax) = (null!, null!);

        public override string Name => "max_pool2d";

        public override void Backward(Tensor dy)
        {
            var dx = Like(_x);
            dy.Backend.MaxPool2dBackward(_g, dy, _argmax, dx);
            Tape.Accumulate(_x, dx);
        }

        public override void ReleaseSaved() => _argmax.Dispose();
    }

    /// <summary>Mean over the spatial axes: [N, C, H, W] → [N, C] (torchvision's avgpool + flatten).</summary>
    public static Tensor GlobalAvgPool(Tensor x)
    {
        const string op = "global_avg_pool";
        Floating(op, x);
        ShapeMismatchException.Require(x.Rank == 4, op, "input must be [N, C, H, W]", x);
        int planes = x.Shape[0] * x.Shape[1], area = x.Shape[2] * x.Shape[3];
        var y = New(x, new Shape(x.Shape[0], x.Shape[1]));
        x.Backend.ReduceSum(x, planes, area, 1, 1.0 / area, y);
        return Tape.NeedsGrad(x) ? Tape.Record(ReduceNode.Of("global_avg_pool", x, planes, area, 1, 1.0 / area), y) : y;
    }
}
