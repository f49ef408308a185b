using Vicreg.Engine.Autograd;

namespace Vicreg.Engine;

public static partial class Ops
{
    public static Tensor Add(Tensor a, Tensor b) => Binary(BinaryOp.Add, "add", a, b);
    public static Tensor Sub(Tensor a, Tensor b) => Binary(BinaryOp.Sub, "sub", a, b);
    public static Tensor Mul(Tensor a, Tensor b) => Binary(BinaryOp.Mul, "mul", a, b);

    private static Tensor Binary(BinaryOp op, string name, Tensor a, Tensor b)
    {
        SameShape(name, a, b);
        Floating(name, a);
        var y = Like(a);
        a.Backend.Binary(op, a, b, y);
        return Tape.NeedsGrad(a, b) ? Tape.Record(new BinaryNode(op, name, a, b), y) : y;
    }

    private sealed class BinaryNode(BinaryOp op, string name, Tensor a, Tensor b) : Node
    {
        public override string Name => name;

        public override void Backward(Tensor dy)
        {
            var be = dy.Backend;
            if (a.RequiresGrad)
            {
                var da = Like(a);
                if (op == BinaryOp.Mul) be.Binary(BinaryOp.Mul, dy, b, da);
                else be.Unary(UnaryOp.Copy, dy, da);
                Tape.Accumulate(a, da);
            }
            if (b.RequiresGrad)
            {
                var db = Like(b);
                switch (op)
                {
                    case BinaryOp.Mul: be.Binary(BinaryOp.Mul, dy, a, db); break;
                    case BinaryOp.Sub: be.Unary(UnaryOp.Scale, dy, db, -1); break;
                    default: be.Unary(UnaryOp.Copy, dy, db); break;
                }
                Tape.Accumulate(b, db);
            }
        }
    }

    /// <summary>The forward of a one-input op: checks, allocates the output, runs the kernel (the caller records its node).</summary>
    private static Tensor Unary(UnaryOp op, string name, Tensor x, double alpha = 0)
    {
        Floating(name, x);
        var y = Like(x);
        x.Backend.Unary(op, x, y, alpha);
        return y;
    }

    /// <summary>The backward of a one-input op whose gradient is elementwise: dx = scale * op(a, b; alpha),
    /// accumulated into x's gradient.</summary>
    private static void AccumulateElementwise(Tensor x, BinaryOp op, Tensor a, Tensor b, double alpha = 0, double scale = 1)
    {
        var dx = Like(x);
        x.Backend.Binary(op, a, b, dx, alpha);
        if (scale != 1) x.Backend.Unary(UnaryOp.Scale, dx, dx, scale);
        Tape.Accumulate(x, dx);
    }

    /// <summary>y = alpha * x.</summary>
    public static Tensor Scale(Tensor x, double alpha)
    {
        var y = Unary(UnaryOp.Scale, "scale", x, alpha);
        return Tape.NeedsGrad(x) ? Tape.Record(new ScaleNode(x, alpha), y) : y;
    }

    private sealed class ScaleNode(Tensor x, double alpha) : Node
    {
        public override string Name => "scale";
        public override void Backward(Tensor dy)
        {
            var dx = Like(x);
            dy.Backend.Unary(UnaryOp.Scale, dy, dx, alpha);
            Tape.Accumulate(x, dx);
        }
    }

    /// <summary>y = x + alpha (the gradient passes through unchanged).</summary>
    public static Tensor AddScalar(Tensor x, double alpha)
    {
        var y = Unary(UnaryOp.AddScalar, "add_scalar", x, alpha);
        return Tape.NeedsGrad(x) ? Tape.Record(new ScaleNode(x, 1), y) : y;
    }

    public static Tensor Square(Tensor x)
    {
        var y = Unary(UnaryOp.Square, "square", x);
        return Tape.NeedsGrad(x) ? Tape.Record(new SquareNode(x), y) : y;
    }

    private sealed class SquareNode(Tensor x) : Node
    {
        public override string Name => "square";
        public override void Backward(Tensor dy)
        {
            AccumulateElementwise(x, BinaryOp.Mul, dy, x, scale: 2);
        }
    }

    public static Tensor Sqrt(Tensor x)
    {
        var y = Unary(UnaryOp.Sqrt, "sqrt", x);
        return Tape.NeedsGrad(x) ? Tape.Record(new SqrtNode(x, y), y) : y;
    }

    private sealed class SqrtNode(Tensor x, Tensor y) : Node
    {
        public override string Name => "sqrt";
        public override void Backward(Tensor dy)
        {
            // d sqrt(x) = dy / (2 sqrt(x))
            AccumulateElementwise(x, BinaryOp.Div, dy, y, scale: 0.5);
        }
    }

    public static Tensor Relu(Tensor x)
    {
        var y = Unary(UnaryOp.Relu, "relu", x);
        return Tape.NeedsGrad(x) ? Tape.Record(new ReluNode(x, y), y) : y;
    }

    private sealed class ReluNode(Tensor x, Tensor y) : Node
    {
        public override string Name => "relu";
        public override void Backward(Tensor dy)
        {
            AccumulateElementwise(x, BinaryOp.ReluBackward, y, dy);
        }
    }

    /// <summary>y = max(alpha - x, 0): the hinge VICReg's variance term puts on each column's std.</summary>
    public static Tensor Hinge(Tensor x, double alpha)
    {
        var y = Unary(UnaryOp.Hinge, "hinge", x, alpha);
        return Tape.NeedsGrad(x) ? Tape.Record(new HingeNode(x, alpha), y) : y;
    }

    private sealed class HingeNode(Tensor x, double alpha) : Node
    {
        public override string Name => "hinge";
        public override void Backward(Tensor dy)
        {
            AccumulateElementwise(x, BinaryOp.HingeBackward, x, dy, alpha);
        }
    }
}
