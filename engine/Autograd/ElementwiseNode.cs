namespace Vicreg.Engine.Autograd;

/// <summary>What an elementwise op's derivative rule may read: the upstream gradient, the op's inputs, its
/// output and its scalar.</summary>
internal readonly struct ElementwiseGradient(Tensor dy, Tensor a, Tensor? b, Tensor y, double alpha)
{
    public Tensor Dy => dy;
    public Tensor A => a;
    public Tensor B => b ?? throw new InvalidOperationException("a one-input op's rule read its second input");
    public Tensor Y => y;
    public double Alpha => alpha;
    public IBackend Backend => dy.Backend;
}

/// <summary>Writes one input's gradient into <paramref name="grad"/> (a fresh tensor shaped like that input)
/// with backend kernels.</summary>
internal delegate void DerivativeRule(ElementwiseGradient g, Tensor grad);

/// <summary>An elementwise op's name and its derivative rule for each input. Ops keep one per op in a static
/// field, so recording a node allocates nothing for its rule.</summary>
internal sealed class ElementwiseRule(string name, DerivativeRule forA, DerivativeRule? forB = null)
{
    public string Name => name;
    public DerivativeRule ForA => forA;
    public DerivativeRule ForB => forB ?? throw new InvalidOperationException($"{name}: no rule for a second input");
}

/// <summary>
/// The one tape node of every elementwise op (one or two differentiable inputs of one shape and a scalar),
/// parametrised by the op's <see cref="ElementwiseRule"/>: an op is a line and its rule instead of a class.
/// It keeps only the rule, the inputs and the scalar (the output is <see cref="Node.Output"/>), and is pooled.
/// </summary>
internal sealed class ElementwiseNode : PooledNode<ElementwiseNode>
{
    private ElementwiseRule _rule = null!;
    private Tensor _a = null!;
    private Tensor? _b;
    private double _alpha;

    public static ElementwiseNode Of(ElementwiseRule rule, Tensor a, Tensor? b, double alpha)
    {
        var node = Rent();
        node._rule = rule;
        node._a = a;
        node._b = b;
        node._alpha = alpha;
        return node;
    }

    public override string Name => _rule.Name;

    public override void Backward(Tensor dy)
    {
        var g = new ElementwiseGradient(dy, _a, _b, Output!, _alpha);
        Accumulate(_a, _rule.ForA, g);
        if (_b is not null) Accumulate(_b, _rule.ForB, g);
    }

    protected override void Clear()
    {
        _rule = null!;
        _a = null!;
        _b = null;
    }

    private static void Accumulate(Tensor input, DerivativeRule rule, ElementwiseGradient g)
    {
        if (!input.RequiresGrad) return;
        var grad = Tensor.Empty(input.Shape, input.DType, input.Backend);
        rule(g, grad);
        Tape.Accumulate(input, grad);
    }
}
