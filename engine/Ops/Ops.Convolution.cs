using Vicreg.Engine.Autograd;

namespace Vicreg.Engine;

public static partial class Ops
{
    /// <summary>2-D convolution (cross-correlation, as PyTorch) of x [N, C, H, W] with weight [K, C, R, S],
    /// optional bias [K], equal stride and padding on both axes.</summary>
    public static Tensor Conv2d(Tensor x, Tensor weight, Tensor? bias, int stride = 1, int padding = 0)
    {
        const string op = "conv2d";
        SameBackend(op, x, weight);
        ShapeMismatchException.SameDType(op, x, weight);
        Floating(op, x);
        ShapeMismatchException.Require(x.Rank == 4 && weight.Rank == 4, op, "input must be [N, C, H, W] and weight [K, C, R, S]", x, weight);
        ShapeMismatchException.Require(x.Shape[1] == weight.Shape[1], op, "input channels must match the weight's second dimension", x, weight);
        if (stride < 1 || padding < 0) throw new ShapeMismatchException($"{op}: stride must be >= 1 and padding >= 0 (got {stride}, {padding})");
        var g = new Conv2dGeometry(x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3], weight.Shape[0], weight.Shape[2], weight.Shape[3],
            stride, stride, padding, padding);
        ShapeMismatchException.Require(g.InHeight + 2 * padding >= g.KernelHeight && g.InWidth + 2 * padding >= g.KernelWidth, op,
            "the padded input is smaller than the kernel", x, weight);
        if (bias is not null)
            ShapeMismatchException.Require(bias.Rank == 1 && bias.Shape[0] == g.OutChannels, op, "bias must be [K]", bias, weight);
        var y = New(x, g.OutputShape);
        x.Backend.Conv2dForward(g, x, weight, y);
        if (bias is not null) x.Backend.AddChannelVector(y, bias, g.Batch, g.OutChannels, g.OutHeight * g.OutWidth, 1, y);
        return Tape.NeedsGrad(x, weight, bias) ? Tape.Record(Conv2dNode.Of(g, x, weight, bias), y) : y;
    }

    private sealed class Conv2dNode : PooledNode<Conv2dNode>
    {
        private Conv2dGeometry _g;
        private Tensor _x = null!, _weight = null!;
        private Tensor? _bias;

        public static Conv2dNode Of(Conv2dGeometry g, Tensor x, Tensor weight, Tensor? bias)
        {
            var node = Rent();
            (node._g, node._x, node._weight, node._bias) = (g, x, weight, bias);
            return node;
        }

        protected override void Clear() => (_x, _weight, _bias) = (null!, null!, null);

        public override string Name => "conv2d";

        public override void Backward(Tensor dy)
        {
            var be = dy.Backend;
            if (_x.RequiresGrad)
            {
                var dx = Like(_x);
                be.Conv2dBackwardData(_g, dy, _weight, dx);
                Tape.Accumulate(_x, dx);
            }
            if (_weight.RequiresGrad)
            {
                var dw = Like(_weight);
                be.Conv2dBackwardFilter(_g, _x, dy, dw);
                Tape.Accumulate(_weight, dw);
            }
            if (_bias is { RequiresGrad: true })
            {
                var db = Like(_bias);
                be.ChannelSum(dy, _g.Batch, _g.OutChannels, _g.OutHeight * _g.OutWidth, 1, db);
                Tape.Accumulate(_bias, db);
            }
        }
    }
}
