using Vicreg.Engine.Autograd;

namespace Vicreg.Engine;

// The elementwise primitives. Each is its forward kernel and its derivative rule (an ElementwiseRule kept in
// a static field, declared beside the op) recorded on the one parametrised ElementwiseNode; ops built from
// these (Ops.Gelu.cs) need no backward of their own.
public static partial class Ops
{
    // Declared first: the rules below use it in their initializers, which run in textual order.
    private static readonly DerivativeRule s_passThrough = static (g, d) => g.Backend.Unary(UnaryOp.Copy, g.Dy, d);

    /// <summary>a + b, elementwise (same shapes).</summary>
    public static Tensor Add(Tensor a, Tensor b) => Binary(BinaryOp.Add, a, b, s_addRule);
    private static readonly ElementwiseRule s_addRule = new("add", s_passThrough, s_passThrough);

    /// <summary>a - b, elementwise (same shapes).</summary>
    public static Tensor Sub(Tensor a, Tensor b) => Binary(BinaryOp.Sub, a, b, s_subRule);
    private static readonly ElementwiseRule s_subRule = new("sub", s_passThrough, static (g, d) => g.Backend.Unary(UnaryOp.Scale, g.Dy, d, -1));

    /// <summary>a × b, elementwise (same shapes).</summary>
    public static Tensor Mul(Tensor a, Tensor b) => Binary(BinaryOp.Mul, a, b, s_mulRule);
    private static readonly ElementwiseRule s_mulRule = new("mul",
        static (g, d) => g.Backend.Binary(BinaryOp.Mul, g.Dy, g.B, d),
        static (g, d) => g.Backend.Binary(BinaryOp.Mul, g.Dy, g.A, d));

    /// <summary>a / b. d/da = dy / b; d/db = -dy · y / b.</summary>
    public static Tensor Div(Tensor a, Tensor b) => Binary(BinaryOp.Div, a, b, s_divRule);
    private static readonly ElementwiseRule s_divRule = new("div",
        static (g, d) => g.Backend.Binary(BinaryOp.Div, g.Dy, g.B, d),
        static (g, d) =>
        {
            g.Backend.Binary(BinaryOp.Mul, g.Dy, g.Y, d);
            g.Backend.Binary(BinaryOp.Div, d, g.B, d);
            g.Backend.Unary(UnaryOp.Scale, d, d, -1);
        });

    /// <summary>max(a, b) elementwise, NaN if either is NaN (torch.maximum). Where a == b the gradient is split
    /// evenly between a and b, as PyTorch does.</summary>
    public static Tensor Maximum(Tensor a, Tensor b) => Binary(BinaryOp.Maximum, a, b, s_maximumRule);
    private static readonly ElementwiseRule s_maximumRule = new("maximum",
        static (g, d) => ShareOfGradient(g, g.A, g.B, d),
        static (g, d) => ShareOfGradient(g, g.B, g.A, d));

    /// <summary>min(a, b) elementwise, NaN if either is NaN (torch.minimum); ties split the gradient evenly.</summary>
    public static Tensor Minimum(Tensor a, Tensor b) => Binary(BinaryOp.Minimum, a, b, s_minimumRule);
    private static readonly ElementwiseRule s_minimumRule = new("minimum",
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
        // The rule reads this call's condition, so where (not on a training step's path) makes its rule per call.
        var rule = new ElementwiseRule(name,
            (g, d) => g.Backend.Binary(BinaryOp.SelectNonZero, condition, g.Dy, d),
            (g, d) => g.Backend.Binary(BinaryOp.SelectZero, condition, g.Dy, d));
        return Tape.Record(ElementwiseNode.Of(rule, a, b, 0), y);
    }

    private static Tensor Binary(BinaryOp op, Tensor a, Tensor b, ElementwiseRule rule)
    {
        SameShape(rule.Name, a, b);
        Floating(rule.Name, a);
        var y = Like(a);
        a.Backend.Binary(op, a, b, y);
        return Tape.NeedsGrad(a, b) ? Tape.Record(ElementwiseNode.Of(rule, a, b, 0), y) : y;
    }

    /// <summary>A one-input op: checks, runs the kernel, records the rule when x needs a gradient.</summary>
    internal static Tensor Unary(UnaryOp op, Tensor x, ElementwiseRule rule, double alpha = 0)
    {
        Floating(rule.Name, x);
        var y = Like(x);
        x.Backend.Unary(op, x, y, alpha);
        return Tape.NeedsGrad(x) ? Tape.Record(ElementwiseNode.Of(rule, x, null, alpha), y) : y;
    }

    /// <summary>y = alpha * x.</summary>
    public static Tensor Scale(Tensor x, double alpha) => Unary(UnaryOp.Scale, x, s_scaleRule, alpha);
    private static readonly ElementwiseRule s_scaleRule = new("scale", static (g, d) => g.Backend.Unary(UnaryOp.Scale, g.Dy, d, g.Alpha));

    /// <summary>y = x + alpha (the gradient passes through unchanged).</summary>
    public static Tensor AddScalar(Tensor x, double alpha) => Unary(UnaryOp.AddScalar, x, s_addScalarRule, alpha);
    private static readonly ElementwiseRule s_addScalarRule = new("add_scalar", s_passThrough);

    /// <summary>x², elementwise.</summary>
    public static Tensor Square(Tensor x) => Unary(UnaryOp.Square, x, s_squareRule);
    private static readonly ElementwiseRule s_squareRule = new("square", static (g, d) =>
    {
        g.Backend.Binary(BinaryOp.Mul, g.Dy, g.A, d);
        g.Backend.Unary(UnaryOp.Scale, d, d, 2);
    });

    /// <summary>d sqrt(x) = dy / (2 sqrt(x)).</summary>
    public static Tensor Sqrt(Tensor x) => Unary(UnaryOp.Sqrt, x, s_sqrtRule);
    private static readonly ElementwiseRule s_sqrtRule = new("sqrt", static (g, d) =>
    {
        g.Backend.Binary(BinaryOp.Div, g.Dy, g.Y, d);
        g.Backend.Unary(UnaryOp.Scale, d, d, 0.5);
    });

    /// <summary>max(x, 0), elementwise.</summary>
    public static Tensor Relu(Tensor x) => Unary(UnaryOp.Relu, x, s_reluRule);
    private static readonly ElementwiseRule s_reluRule = new("relu", static (g, d) => g.Backend.Binary(BinaryOp.ReluBackward, g.Y, g.Dy, d));

    /// <summary>y = max(alpha - x, 0): the hinge VICReg's variance term puts on each column's std.</summary>
    public static Tensor Hinge(Tensor x, double alpha) => Unary(UnaryOp.Hinge, x, s_hingeRule, alpha);
    private static readonly ElementwiseRule s_hingeRule = new("hinge", static (g, d) => g.Backend.Binary(BinaryOp.HingeBackward, g.A, g.Dy, d, g.Alpha));

    /// <summary>e^x; d = dy · y.</summary>
    public static Tensor Exp(Tensor x) => Unary(UnaryOp.Exp, x, s_expRule);
    private static readonly ElementwiseRule s_expRule = new("exp", static (g, d) => g.Backend.Binary(BinaryOp.Mul, g.Dy, g.Y, d));

    /// <summary>Natural logarithm; d = dy / x.</summary>
    public static Tensor Log(Tensor x) => Unary(UnaryOp.Log, x, s_logRule);
    private static readonly ElementwiseRule s_logRule = new("log", static (g, d) => g.Backend.Binary(BinaryOp.Div, g.Dy, g.A, d));

    /// <summary>1 / x; d = -dy · y².</summary>
    public static Tensor Reciprocal(Tensor x) => Unary(UnaryOp.Reciprocal, x, s_reciprocalRule);
    private static readonly ElementwiseRule s_reciprocalRule = new("reciprocal", static (g, d) =>
    {
        g.Backend.Binary(BinaryOp.Mul, g.Dy, g.Y, d);
        g.Backend.Binary(BinaryOp.Mul, d, g.Y, d);
        g.Backend.Unary(UnaryOp.Scale, d, d, -1);
    });

    /// <summary>tanh(x); d = dy · (1 - y²).</summary>
    public static Tensor Tanh(Tensor x) => Unary(UnaryOp.Tanh, x, s_tanhRule);
    private static readonly ElementwiseRule s_tanhRule = new("tanh", static (g, d) => g.Backend.Binary(BinaryOp.TanhBackward, g.Y, g.Dy, d));

    /// <summary>x ^ exponent (torch.pow with a scalar exponent); d = dy · exponent · x^(exponent-1), and 0 for
    /// exponent 0 (as PyTorch, where 0 · x^-1 would be NaN at x = 0).</summary>
    public static Tensor Pow(Tensor x, double exponent) => Unary(UnaryOp.Pow, x, s_powRule, exponent);
    private static readonly ElementwiseRule s_powRule = new("pow", static (g, d) =>
    {
        if (g.Alpha == 0)
        {
            g.Backend.Fill(d, 0);
            return;
        }
        g.Backend.Unary(UnaryOp.Pow, g.A, d, g.Alpha - 1);
        g.Backend.Binary(BinaryOp.Mul, g.Dy, d, d);
        g.Backend.Unary(UnaryOp.Scale, d, d, g.Alpha);
    });
}
