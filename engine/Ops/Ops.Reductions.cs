using Vicreg.Engine.Autograd;

namespace Vicreg.Engine;

public static partial class Ops
{
    /// <summary>Sum along one axis, which is removed from the shape.</summary>
    public static Tensor Sum(Tensor x, int axis) => ReduceAxis("sum", x, axis, mean: false);

    /// <summary>Mean along one axis, which is removed from the shape.</summary>
    public static Tensor Mean(Tensor x, int axis) => ReduceAxis("mean", x, axis, mean: true);

    /// <summary>Sum of every element, as a one-element tensor of shape [].</summary>
    public static Tensor SumAll(Tensor x) => ReduceAll("sum_all", x, 1.0);

    /// <summary>Mean of every element, as a one-element tensor of shape [].</summary>
    public static Tensor MeanAll(Tensor x) => ReduceAll("mean_all", x, 1.0 / Math.Max(1, x.Numel));

    private static Tensor ReduceAll(string op, Tensor x, double alpha)
    {
        Floating(op, x);
        int n = checked((int)x.Numel);
        var y = New(x, new Shape());
        x.Backend.ReduceSum(x, 1, n, 1, alpha, y);
        return Tape.NeedsGrad(x) ? Tape.Record(ReduceNode.Of(op, x, 1, n, 1, alpha), y) : y;
    }

    private static Tensor ReduceAxis(string op, Tensor x, int axis, bool mean)
    {
        Floating(op, x);
        if (axis < 0) axis += x.Rank;
        if (axis < 0 || axis >= x.Rank) throw new ShapeMismatchException($"{op}: axis {axis} out of range for {x.Shape}");
        int outer = x.Shape.Product(0, axis), mid = x.Shape[axis], inner = x.Shape.Product(axis + 1, x.Rank);
        Span<int> dims = stackalloc int[x.Rank - 1];
        for (int i = 0, j = 0; i < x.Rank; i++) if (i != axis) dims[j++] = x.Shape[i];
        double alpha = mean ? 1.0 / Math.Max(1, mid) : 1.0;
        var y = New(x, new Shape(dims));
        x.Backend.ReduceSum(x, outer, mid, inner, alpha, y);
        return Tape.NeedsGrad(x) ? Tape.Record(ReduceNode.Of(op, x, outer, mid, inner, alpha), y) : y;
    }

    /// <summary>Backward of a (scaled) sum over the middle axis of [outer, mid, inner]: broadcast back.</summary>
    private sealed class ReduceNode : PooledNode<ReduceNode>
    {
        private string _name = "";
        private Tensor _x = null!;
        private int _outer, _mid, _inner;
        private double _alpha;

        public static ReduceNode Of(string name, Tensor x, int outer, int mid, int inner, double alpha)
        {
            var node = Rent();
            (node._name, node._x, node._outer, node._mid, node._inner, node._alpha) = (name, x, outer, mid, inner, alpha);
            return node;
        }

        protected override void Clear() => _x = null!;

        public override string Name => _name;

        public override void Backward(Tensor dy)
        {
            var dx = Like(_x);
            dy.Backend.Broadcast(dy, _outer, _mid, _inner, _alpha, dx);
            Tape.Accumulate(_x, dx);
        }
    }
}
