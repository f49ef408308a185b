using Vicreg.Engine.Autograd;

namespace Vicreg.Engine;

// The elementwise primitives. Each is its forward kernel and its derivative rule, recorded on one
// parametrised node (ElementwiseNode); ops built from these (Ops.Gelu.cs) need no backward of their own.
public static partial class Ops
{
    public static Tensor Add(Tensor a, Tensor b) => Binary(BinaryOp.Add, "add", a, b, PassThrough, PassThrough);
    public static Tensor Sub(Tensor a, Tensor b) => Binary(BinaryOp.Sub, "sub", a, b, PassThrough,
        static (g, d) => g.Backend.Unary(UnaryOp.Scale, g.Dy, d, -1));
    public static Tensor Mul(Tensor a, Tensor b) => Binary(BinaryOp.Mul, "mul", a, b,
        static (g, d) => g.Backend.Binary(BinaryOp.Mul, g.Dy, g.B, d),
        static (g, d) => g.Backend.Binary(BinaryOp.Mul, g.Dy, g.A, d));

    /// <summary>a / b. d/da = dy / b; d/db = -dy · y / b.</summary>
    public static Tensor Div(Tensor a, Tensor b) => Binary(BinaryOp.Div, "div", a, b,
        static (g, d) => g.Backend.Binary(BinaryOp.Div, g.Dy, g.B, d),
        static (g, d) =>
        {
            g.Backend.Binary(BinaryOp.Mul, g.Dy, g.Y, d);
            g.Backend.Binary(BinaryOp.Div, d, g.B, d);
            g.Backend.Unary(UnaryOp.Scale, d, d, -1);
        });

    /// <summary>max(a, b) elementwise, NaN if either is NaN (torch.maximum). Where a == b the gradient is split
    /// evenly between a and b, as PyTorch does.</summary>
    public static Tensor Maximum(Tensor a, Tensor b) => Binary(BinaryOp.Maximum, "maximum", a, b,
        static (g, d) => ShareOfGradient(g, g.A, g.B, d),
        static (g, d) => ShareOfGradient(g, g.B, g.A, d));

    /// <summary>min(a, b) elementwise, NaN if either is NaN (torch.minimum); ties split the gradient evenly.</summary>
    public static Tensor Minimum(Tensor a, Tensor b) => Binary(BinaryOp.Minimum, "minimum", a, b,
        static (g, d) => ShareOfGradient(g, g.B, g.A, d),
        static (g, d) => ShareOfGradient(g, g.A, g.B, d));

    /// <summary>d = dy · (0 where winner &lt; loser, 1/2 where equal, else 1).</summary>
    private static void ShareOfGradient(ElementwiseGradient g, Tensor winner, Tensor loser, Tensor d)
    {
        g.Backend.Binary(BinaryOp.MaxGradientShare, winner, loser, d);
        g.Backend.Binary(BinaryOp.Mul, d, g.Dy, d);
    }

    /// <summary>a where the condition is non-zero (NaN counts as non-zero, as bool(nan) in PyTorch), else b
    /// (torch.where with a condition tensor of the inputs' type and shape). No gradient reaches the condition.</summary>
    public static Tensor Where(Tensor condition, Tensor a, Tensor b)
    {
        const string name = "where";
        SameShape(name, a, b);
        SameShape(name, condition, a);
        Floating(name, a);
        var y = Like(a);
        var fromB = Like(a);
        // Each select writes -0 where it does not pick, and x + (-0) == x for every x (also -0): y is exact.
        a.Backend.Binary(BinaryOp.SelectNonZero, condition, a, y);
        a.Backend.Binary(BinaryOp.SelectZero, condition, b, fromB);
        a.Backend.Binary(BinaryOp.Add, y, fromB, y);
        fromB.Dispose();
        if (!Tape.NeedsGrad(a, b)) return y;
        return Tape.Record(new ElementwiseNode(name, y, 0, a,
            static (g, d) => g.Backend.Binary(BinaryOp.SelectNonZero, g.Condition, g.Dy, d), b,
            static (g, d) => g.Backend.Binary(BinaryOp.SelectZero, g.Condition, g.Dy, d), condition), y);
    }

    private static readonly DerivativeRule PassThrough = static (g, d) => g.Backend.Unary(UnaryOp.Copy, g.Dy, d);

    private static Tensor Binary(BinaryOp op, string name, Tensor a, Tensor b, DerivativeRule ruleA, DerivativeRule ruleB)
    {
        SameShape(name, a, b);
        Floating(name, a);
        var y = Like(a);
        a.Backend.Binary(op, a, b, y);
        return Tape.NeedsGrad(a, b) ? Tape.Record(new ElementwiseNode(name, y, 0, a, ruleA, b, ruleB), y) : y;
    }

    /// <summary>A one-input op: checks, runs the kernel, records the rule when x needs a gradient.</summary>
    internal static Tensor Unary(UnaryOp op, string name, Tensor x, DerivativeRule rule, double alpha = 0)
    {
        Floating(name, x);
        var y = Like(x);
        x.Backend.Unary(op, x, y, alpha);
        return Tape.NeedsGrad(x) ? Tape.Record(new ElementwiseNode(name, y, alpha, x, rule), y) : y;
    }

    /// <summary>y = alpha * x.</summary>
    public static Tensor Scale(Tensor x, double alpha)
        => Unary(UnaryOp.Scale, "scale", x, static (g, d) => g.Backend.Unary(UnaryOp.Scale, g.Dy, d, g.Alpha), alpha);

    /// <summary>y = x + alpha (the gradient passes through unchanged).</summary>
    public static Tensor AddScalar(Tensor x, double alpha) => Unary(UnaryOp.AddScalar, "add_scalar", x, PassThrough, alpha);

    public static Tensor Square(Tensor x) => Unary(UnaryOp.Square, "square", x, static (g, d) =>
    {
        g.Backend.Binary(BinaryOp.Mul, g.Dy, g.A, d);
        g.Backend.Unary(UnaryOp.Scale, d, d, 2);
    });

    /// <summary>d sqrt(x) = dy / (2 sqrt(x)).</summary>
    public static Tensor Sqrt(Tensor x) => Unary(UnaryOp.Sqrt, "sqrt", x, static (g, d) =>
    {
        g.Backend.Binary(BinaryOp.Div, g.Dy, g.Y, d);
        g.Backend.Unary(UnaryOp.Scale, d, d, 0.5);
    });

    public static Tensor Relu(Tensor x)
        => Unary(UnaryOp.Relu, "relu", x, static (g, d) => g.Backend.Binary(BinaryOp.ReluBackward, g.Y, g.Dy, d));

    /// <summary>y = max(alpha - x, 0): the hinge VICReg's variance term puts on each column's std.</summary>
    public static Tensor Hinge(Tensor x, double alpha)
        => Unary(UnaryOp.Hinge, "hinge", x, static (g, d) => g.Backend.Binary(BinaryOp.HingeBackward, g.A, g.Dy, d, g.Alpha), alpha);

    /// <summary>e^x; d = dy · y.</summary>
    public static Tensor Exp(Tensor x)
        => Unary(UnaryOp.Exp, "exp", x, static (g, d) => g.Backend.Binary(BinaryOp.Mul, g.Dy, g.Y, d));

    /// <summary>Natural logarithm; d = dy / x.</summary>
    public static Tensor Log(Tensor x)
        => Unary(UnaryOp.Log, "log", x, static (g, d) => g.Backend.Binary(BinaryOp.Div, g.Dy, g.A, d));

    /// <summary>1 / x; d = -dy · y².</summary>
    public static Tensor Reciprocal(Tensor x) => Unary(UnaryOp.Reciprocal, "reciprocal", x, static (g, d) =>
    {
        g.Backend.Binary(BinaryOp.Mul, g.Dy, g.Y, d);
        g.Backend.Binary(BinaryOp.Mul, d, g.Y, d);
        g.Backend.Unary(UnaryOp.Scale, d, d, -1);
    });

    /// <summary>tanh(x); d = dy · (1 - y²).</summary>
    public static Tensor Tanh(Tensor x)
        => Unary(UnaryOp.Tanh, "tanh", x, static (g, d) => g.Backend.Binary(BinaryOp.TanhBackward, g.Y, g.Dy, d));

    /// <summary>x ^ exponent (torch.pow with a scalar exponent); d = dy · exponent · x^(exponent-1), and 0 for
    /// exponent 0 (as PyTorch, where 0 · x^-1 would be NaN at x = 0).</summary>
    public static Tensor Pow(Tensor x, double exponent) => Unary(UnaryOp.Pow, "pow", x, static (g, d) =>
    {
        if (g.Alpha == 0)
        {
            g.Backend.Fill(d, 0);
            return;
        }
        g.Backend.Unary(UnaryOp.Pow, g.A, d, g.Alpha - 1);
        g.Backend.Binary(BinaryOp.Mul, g.Dy, d, d);
        g.Backend.Unary(UnaryOp.Scale, d, d, g.Alpha);
    }, exponent);
}
