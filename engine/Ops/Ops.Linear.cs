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
        ShapeMismatchException.Require(k == kb, op,
            $"inner dimensions differ ({k} vs {kb}; transposeA={transposeA}, transposeB={transposeB})", a, b);
        var c = New(a, new Shape(m, n));
        a.Backend.Gemm(transposeA, transposeB, 1, a, b, 0, c);
        return Tape.NeedsGrad(a, b) ? Tape.Record(new MatMulNode(a, b, transposeA, transposeB), c) : c;
    }

    private sealed class MatMulNode(Tensor a, Tensor b, bool transposeA, bool transposeB) : Node
    {
        public override string Name => "matmul";

        public override void Backward(Tensor dc)
        {
            var be = dc.Backend;
            if (a.RequiresGrad)
            {
                // C = A B  => dA = dC B^T;  C = A^T B => dA = B dC^T  (and likewise with B transposed)
                var da = Like(a);
                if (!transposeA) be.Gemm(false, !transposeB, 1, dc, b, 0, da);
                else be.Gemm(transposeB, true, 1, b, dc, 0, da);
                Tape.Accumulate(a, da);
            }
            if (b.RequiresGrad)
            {
                var db = Like(b);
                if (!transposeB) be.Gemm(!transposeA, false, 1, a, dc, 0, db);
                else be.Gemm(true, transposeA, 1, dc, a, 0, db);
                Tape.Accumulate(b, db);
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
        return Tape.NeedsGrad(x, weight, bias) ? Tape.Record(new LinearNode(x, weight, bias), y) : y;
    }

    private sealed class LinearNode(Tensor x, Tensor weight, Tensor? bias) : Node
    {
        public override string Name => "linear";

        public override void Backward(Tensor dy)
        {
            var be = dy.Backend;
            if (x.RequiresGrad)
            {
                var dx = Like(x);
                be.Gemm(false, false, 1, dy, weight, 0, dx);
                Tape.Accumulate(x, dx);
            }
            if (weight.RequiresGrad)
            {
                var dw = Like(weight);
                be.Gemm(true, false, 1, dy, x, 0, dw);
                Tape.Accumulate(weight, dw);
            }
            if (bias is { RequiresGrad: true })
            {
                var db = Like(bias);
                be.ChannelSum(dy, dy.Shape[0], dy.Shape[1], 1, 1, db);
                Tape.Accumulate(bias, db);
            }
        }
    }
}
