using Vicreg.Engine.Autograd;

namespace Vicreg.Engine;

public static partial class Ops
{
    /// <summary>op(a) · op(b) for 2-D a and b, transposing an operand when asked (no copy is made).</summary>
    public static Tensor MatMul(Tensor a, Tensor b, bool transposeA = false, bool transposeB = false)
    {
        const string op = "matmul";
        SameBackend(op, a, b);
        ShapeMismatchException.SameDType(op, a, b);
        Floating(op, a);
        ShapeMismatchException.Require(a.Rank == 2 && b.Rank == 2, op, "both operands must be 2-D", a, b);
        int m = transposeA ? a.Shape[1] : a.Shape[0];
        int k = transposeA ? a.Shape[0] : a.Shape[1];
        int kb = transposeB ? b.Shape[1] : b.Shape[0];
        int n = transposeB ? b.Shape[0] : b.Shape[1];
        // Not Require: its message would be formatted on every call.
        if (k != kb)
            throw new ShapeMismatchException($"{op}: inner dimensions differ ({k} vs {kb}; transposeA={transposeA}, transposeB={transposeB}) (got {a.Shape} and {b.Shape})");
        var c = New(a, new Shape(m, n));
        a.Backend.Gemm(transposeA, transposeB, 1, a, b, 0, c);
        return Tape.NeedsGrad(a, b) ? Tape.Record(MatMulNode.Of(a, b, transposeA, transposeB), c) : c;
    }

    private sealed class MatMulNode : PooledNode<MatMulNode>
    {
        private Tensor _a = null!, _b = null!;
        private bool _transposeA, _transposeB;

        public static MatMulNode Of(Tensor a, Tensor b, bool transposeA, bool transposeB)
        {
            var node = Rent();
            (node._a, node._b, node._transposeA, node._transposeB) = (a, b, transposeA, transposeB);
            return node;
        }

        protected override void Clear() => (_a, _b) = (null!, null!);

        public override string Name => "matmul";

        public override void Backward(Tensor dc)
        {
            var be = dc.Backend;
            if (_a.RequiresGrad)
            {
                // C = A B  => dA = dC B^T;  C = A^T B => dA = B dC^T  (and likewise with B transposed)
                var da = Like(_a);
                if (!_transposeA) be.Gemm(false, !_transposeB, 1, dc, _b, 0, da);
                else be.Gemm(_transposeB, true, 1, _b, dc, 0, da);
                Tape.Accumulate(_a, da);
            }
            if (_b.RequiresGrad)
            {
                var db = Like(_b);
                if (!_transposeB) be.Gemm(!_transposeA, false, 1, _a, dc, 0, db);
                else be.Gemm(true, _transposeA, 1, dc, _a, 0, db);
                Tape.Accumulate(_b, db);
            }
        }
    }

    /// <summary>y = x · wᵀ + bias, with x [n, in], weight [out, in] (PyTorch's layout), bias [out] or null.</summary>
    public static Tensor Linear(Tensor x, Tensor weight, Tensor? bias)
    {
        const string op = "linear";
        SameBackend(op, x, weight);
        ShapeMismatchException.SameDType(op, x, weight);
        Floating(op, x);
        ShapeMismatchException.Require(x.Rank == 2 && weight.Rank == 2 && x.Shape[1] == weight.Shape[1], op,
            "input [n, in] and weight [out, in] must agree on in", x, weight);
        int outFeatures = weight.Shape[0];
        if (bias is not null)
            ShapeMismatchException.Require(bias.Rank == 1 && bias.Shape[0] == outFeatures, op, "bias must be [out]", bias, weight);
        var y = New(x, new Shape(x.Shape[0], outFeatures));
        x.Backend.Gemm(false, true, 1, x, weight, 0, y);
        if (bias is not null) x.Backend.AddChannelVector(y, bias, x.Shape[0], outFeatures, 1, 1, y);
        return Tape.NeedsGrad(x, weight, bias) ? Tape.Record(LinearNode.Of(x, weight, bias), y) : y;
    }

    private sealed class LinearNode : PooledNode<LinearNode>
    {
        private Tensor _x = null!, _weight = null!;
        private Tensor? _bias;

        public static LinearNode Of(Tensor x, Tensor weight, Tensor? bias)
        {
            var node = Rent();
            (node._x, node._weight, node._bias) = (x, weight, bias);
            return node;
        }

        protected override void Clear() => (_x, _weight, _bias) = (null!, null!, null);

        public override string Name => "linear";

        public override void Backward(Tensor dy)
        {
            var be = dy.Backend;
            if (_x.RequiresGrad)
            {
                var dx = Like(_x);
                be.Gemm(false, false, 1, dy, _weight, 0, dx);
                Tape.Accumulate(_x, dx);
            }
            if (_weight.RequiresGrad)
            {
                var dw = Like(_weight);
                be.Gemm(true, false, 1, dy, _x, 0, dw);
                Tape.Accumulate(_weight, dw);
            }
            if (_bias is { RequiresGrad: true })
            {
                var db = Like(_bias);
                be.ChannelSum(dy, dy.Shape[0], dy.Shape[1], 1, 1, db);
                Tape.Accumulate(_bias, db);
            }
        }
    }
}
