using Vicreg.Engine.Autograd;

namespace Vicreg.Engine;

public static partial class Ops
{
    /// <summary>A differentiable reshape (a view; the gradient is reshaped back).</summary>
    public static Tensor Reshape(Tensor x, Shape shape)
    {
        if (shape.Numel != x.Numel) throw new ShapeMismatchException($"reshape: cannot reshape {x.Shape} to {shape}");
        var y = x.View(shape);
        return Tape.NeedsGrad(x) ? Tape.Record(ReshapeNode.Of(x), y) : y;
    }

    /// <summary>[N, ...] → [N, rest]: torchvision's flatten(1).</summary>
    public static Tensor Flatten(Tensor x) => Reshape(x, new Shape(x.Shape[0], x.Shape.Product(1, x.Rank)));

    private sealed class ReshapeNode : PooledNode<ReshapeNode>
    {
        private Tensor _x = null!;

        public static ReshapeNode Of(Tensor x)
        {
            var node = Rent();
            node._x = x;
            return node;
        }

        protected override void Clear() => _x = null!;

        public override string Name => "reshape";
        public override void Backward(Tensor dy)
        {
            var dx = Like(_x);
            dy.Backend.Copy(dy, 0, dx, 0, dx.Numel);
            Tape.Accumulate(_x, dx);
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
        return Tape.NeedsGrad(a, b) ? Tape.Record(ConcatNode.Of(a, b), y) : y;
    }

    private sealed class ConcatNode : PooledNode<ConcatNode>
    {
        private Tensor _a = null!, _b = null!;

        public static ConcatNode Of(Tensor a, Tensor b)
        {
            var node = Rent();
            (node._a, node._b) = (a, b);
            return node;
        }

        protected override void Clear() => (_a, _b) = (null!, null!);

        public override string Name => "concat";
        public override void Backward(Tensor dy)
        {
            if (_a.RequiresGrad)
            {
                var da = Like(_a);
                dy.Backend.Copy(dy, 0, da, 0, _a.Numel);
                Tape.Accumulate(_a, da);
            }
            if (_b.RequiresGrad)
            {
                var db = Like(_b);
                dy.Backend.Copy(dy, _a.Numel, db, 0, _b.Numel);
                Tape.Accumulate(_b, db);
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
        return Tape.NeedsGrad(x) ? Tape.Record(SliceNode.Of(x, start * row), y) : y;
    }

    private sealed class SliceNode : PooledNode<SliceNode>
    {
        private Tensor _x = null!;
        private long _offset;

        public static SliceNode Of(Tensor x, long offset)
        {
            var node = Rent();
            (node._x, node._offset) = (x, offset);
            return node;
        }

        protected override void Clear() => _x = null!;

        public override string Name => "slice";
        public override void Backward(Tensor dy)
        {
            var dx = Like(_x);
            dy.Backend.Fill(dx, 0);
            dy.Backend.Copy(dy, 0, dx, _offset, dy.Numel);
            Tape.Accumulate(_x, dx);
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
        return Tape.NeedsGrad(x, v) ? Tape.Record(AddChannelVectorNode.Of(x, v, n, c, inner, alpha), y) : y;
    }

    private sealed class AddChannelVectorNode : PooledNode<AddChannelVectorNode>
    {
        private Tensor _x = null!, _v = null!;
        private int _n, _c, _inner;
        private double _alpha;

        public static AddChannelVectorNode Of(Tensor x, Tensor v, int n, int c, int inner, double alpha)
        {
            var node = Rent();
            (node._x, node._v, node._n, node._c, node._inner, node._alpha) = (x, v, n, c, inner, alpha);
            return node;
        }

        protected override void Clear() => (_x, _v) = (null!, null!);

        public override string Name => "add_channel_vector";
        public override void Backward(Tensor dy)
        {
            if (_x.RequiresGrad)
            {
                var dx = Like(_x);
                dy.Backend.Copy(dy, 0, dx, 0, dx.Numel);
                Tape.Accumulate(_x, dx);
            }
            if (_v.RequiresGrad)
            {
                var dv = Like(_v);
                dy.Backend.ChannelSum(dy, _n, _c, _inner, _alpha, dv);
                Tape.Accumulate(_v, dv);
            }
        }
    }
}
