namespace Vicreg.Engine.Autograd;

/// <summary>What an elementwise op's derivative rule may read: the upstream gradient, the op's inputs, its
/// output, its scalar and (for where) its condition.</summary>
internal readonly struct ElementwiseGradient(Tensor dy, Tensor a, Tensor? b, Tensor y, Tensor? condition, double alpha)
{
    public Tensor Dy => dy;
    public Tensor A => a;
    public Tensor B => b ?? throw new InvalidOperationException("a one-input op's rule read its second input");
    public Tensor Y => y;
    public Tensor Condition => condition ?? throw new InvalidOperationException("the op has no condition");
    public double Alpha => alpha;
    public IBackend Backend => dy.Backend;
}

/// <summary>Writes one input's gradient into <paramref name="grad"/> (a fresh tensor shaped like that input)
/// with backend kernels. Ops pass static lambdas, which the compiler allocates once.</summary>
internal delegate void DerivativeRule(ElementwiseGradient g, Tensor grad);

/// <summary>
/// The one tape node of every elementwise op (one or two differentiable inputs of one shape, an optional
/// condition, a scalar): the op's derivative rule for each input is its parameter, so an op is a line
/// and its rule instead of a class. Costs one object per recorded op, as the per-op classes did.
/// </summary>
internal sealed class ElementwiseNode(string name, Tensor y, double alpha, Tensor a, DerivativeRule ruleA,
    Tensor? b = null, DerivativeRule? ruleB = null, Tensor? condition = null) : Node
{
    public override string Name => name;

    public override void Backward(Tensor dy)
    {
        var g = new ElementwiseGradient(dy, a, b, y, condition, alpha);
        Accumulate(a, ruleA, g);
        if (b is not null) Accumulate(b, ruleB ?? throw new InvalidOperationException($"{name}: no rule for the second input"), g);
    }

    private static void Accumulate(Tensor input, DerivativeRule rule, ElementwiseGradient g)
    {
        if (!input.RequiresGrad) return;
        var grad = Tensor.Empty(input.Shape, input.DType, input.Backend);
        rule(g, grad);
        Tape.Accumulate(input, grad);
    }
}
