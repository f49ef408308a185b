using Vicreg.Engine.Autograd;

namespace Vicreg.Engine;

/// <summary>
/// A one-input elementwise op written as a composition of differentiable ops. <see cref="Invoke"/> runs the
/// parts, and the tape records each of them, so the op's backward is its parts' rules: nothing is derived by
/// hand. A fused pair of kernels may be registered with it (forward y = forward(x), backward
/// dx = backward(x, dy)) as an opt-in optimization: they run, recorded as one node, only inside
/// <see cref="PreferFused"/>, and the composite's test checks them against the parts, forward and backward.
/// </summary>
public sealed class ElementwiseComposite
{
    [ThreadStatic] private static int t_preferFusedDepth;

    private readonly Func<Tensor, Tensor> _parts;
    private readonly (UnaryOp Forward, BinaryOp Backward)? _fused;
    private readonly ElementwiseRule? _fusedRule;

    /// <param name="name">The op's name in messages and on the fused path's tape node.</param>
    /// <param name="parts">The op as ops (checks come from the parts).</param>
    /// <param name="fused">Optional fused kernels: forward(x) and backward(a = x, b = dy).</param>
    public ElementwiseComposite(string name, Func<Tensor, Tensor> parts, (UnaryOp Forward, BinaryOp Backward)? fused = null)
    {
        Name = name;
        _parts = parts;
        _fused = fused;
        if (fused is { Backward: var backward })
            _fusedRule = new ElementwiseRule(name, (g, d) => g.Backend.Binary(backward, g.A, g.Dy, d));
    }

    /// <summary>The op's name.</summary>
    public string Name { get; }

    /// <summary>True when fused kernels are registered.</summary>
    public bool HasFused => _fused is not null;

    /// <summary>The op: its fused kernels inside <see cref="PreferFused"/> when it has them, else its parts.</summary>
    public Tensor Invoke(Tensor x) => t_preferFusedDepth > 0 && HasFused ? Fused(x) : Composed(x);

    /// <summary>The op as its parts, whatever the scope (the reference its fused kernels are checked against).</summary>
    public Tensor Composed(Tensor x) => _parts(x);

    /// <summary>The op as its fused kernels, whatever the scope; throws when none are registered.</summary>
    public Tensor Fused(Tensor x)
    {
        var (forward, _) = _fused ?? throw new InvalidOperationException($"{Name}: no fused kernels are registered");
        return Ops.Unary(forward, x, _fusedRule!);
    }

    /// <summary>Within the returned scope (on this thread), composites with fused kernels run those.</summary>
    public static PreferFusedScope PreferFused()
    {
        t_preferFusedDepth++;
        return new PreferFusedScope();
    }

    /// <summary>The scope <see cref="PreferFused"/> returns.</summary>
    public readonly struct PreferFusedScope : IDisposable
    {
        /// <summary>Ends the scope.</summary>
        public void Dispose() => t_preferFusedDepth--;
    }
}
