using Vicreg.Engine.Autograd;

namespace Vicreg.Engine;

public static partial class Ops
{
    /// <summary>A differentiable reshape (a view; the gradient is reshaped back).</summary>
    public static Tensor Reshape(Tensor x, Shape shape)
    {
        if (shape.Numel != x.Numel) throw new ShapeMismatchException($"reshape: cannot reshape {x.Shape} to {shape}");
        var y = x.View(shape);
        return Tape.NeedsGrad(x) ? Tape.Record(new ReshapeNode(x), y) : y;
    }

    /// <summary>[N, ...] → [N, rest]: torchvision's flatten(1).</summary>
    public static Tensor Flatten(Tensor x) => Reshape(x, new Shape(x.Shape[0], x.Shape.Product(1, x.Rank)));

    private sealed class ReshapeNode(Tensor x) : Node
    {
        public override string Name => "reshape";
        public override void Backward(Tensor dy)
        {
            var dx = Like(x);
            dy.Backend.Copy(dy, 0, dx, 0, dx.Numel);
            Tape.Accumulate(x, dx);
        }
    }

    /// <summary>Concatenation along the first (batch) axis; the other dimensions must agree.</summary>
    public static Tensor Concat(Tensor a, Tensor b)
    {
        const string op = "concat";
        SameBackend(op, a, b);
        ShapeMismatchException.SameDType(op, a, b);
        ShapeMismatchException.Require(a.Rank >= 1 && a.Rank == b.Rank && a.Shape.With(0, 0) == b.Shape.With(0, 0), op,
            "all dimensions but the first must agree", a, b);
        var y = New(a, a.Shape.With(0, a.Shape[0] + b.Shape[0]));
        a.Backend.Copy(a, 0, y, 0, a.Numel);
        a.Backend.Copy(b, 0, y, a.Numel, b.Numel);
        return Tape.NeedsGrad(a, b) ? Tape.Record(new ConcatNode(a, b), y) : y;
    }

    private sealed class ConcatNode(Tensor a, Tensor b) : Node
    {
        public override string Name => "concat";
        public override void Backward(Tensor dy)
        {
            if (a.RequiresGrad)
            {
                var da = Like(a);
                dy.Backend.Copy(dy, 0, da, 0, a.Numel);
                Tape.Accumulate(a, da);
            }
            if (b.RequiresGrad)
            {
                var db = Like(b);
                dy.Backend.Copy(dy, a.Numel, db, 0, b.Numel);
                Tape.Accumulate(b, db);
            }
        }
    }

    /// <summary>Rows [start, start+count) along the first axis, as a new tensor.</summary>
    public static Tensor Slice(Tensor x, int start, int count)
    {
        if (x.Rank == 0 || start < 0 || count < 0 || start + count > x.Shape[0])
            throw new ShapeMismatchException($"slice: rows [{start}, {start + count}) of {x.Shape}");
        long row = x.Shape.Product(1, x.Rank);
        var y = New(x, x.Shape.With(0, count));
        x.Backend.Copy(x, start * row, y, 0, y.Numel);
        return Tape.NeedsGrad(x) ? Tape.Record(new SliceNode(x, start * row), y) : y;
    }

    private sealed class SliceNode(Tensor x, long offset) : Node
    {
        public override string Name => "slice";
        public override void Backward(Tensor dy)
        {
            var dx = Like(x);
            dy.Backend.Fill(dx, 0);
            dy.Backend.Copy(dy, 0, dx, offset, dy.Numel);
            Tape.Accumulate(x, dx);
        }
    }

    /// <summary>y[o,c,i] = x[o,c,i] + alpha * v[c] for x read as [N, C, rest]: adds a per-channel (per-column) vector.</summary>
    public static Tensor AddChannelVector(Tensor x, Tensor v, double alpha = 1)
    {
        const string op = "add_channel_vector";
        SameBackend(op, x, v);
        ShapeMismatchException.SameDType(op, x, v);
        ShapeMismatchException.Require(x.Rank >= 2 && v.Rank == 1 && v.Shape[0] == x.Shape[1], op, "v must have one value per channel (axis 1)", x, v);
        int n = x.Shape[0], c = x.Shape[1], inner = x.Shape.Product(2, x.Rank);
        var y = Like(x);
        x.Backend.AddChannelVector(x, v, n, c, inner, alpha, y);
        return Tape.NeedsGrad(x, v) ? Tape.Record(new AddChannelVectorNode(x, v, n, c, inner, alpha), y) : y;
    }

    private sealed class AddChannelVectorNode(Tensor x, Tensor v, int n, int c, int inner, double alpha) : Node
    {
        public override string Name => "add_channel_vector";
        public override void Backward(Tensor dy)
        {
            if (x.RequiresGrad)
            {
                var dx = Like(x);
                dy.Backend.Copy(dy, 0, dx, 0, dx.Numel);
                Tape.Accumulate(x, dx);
            }
            if (v.RequiresGrad)
            {
                var dv = Like(v);
                dy.Backend.ChannelSum(dy, n, c, inner, alpha, dv);
                Tape.Accumulate(v, dv);
            }
        }
    }
}
