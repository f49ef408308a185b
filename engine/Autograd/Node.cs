namespace Vicreg.Engine.Autograd;

/// <summary>
/// One recorded op on the tape: it knows its inputs and, given the gradient of its output, adds each
/// input's gradient into that input (through <see cref="Tape.Accumulate"/>). Tensors it saved for the
/// backward are released by <see cref="ReleaseSaved"/> once the backward has run.
/// </summary>
public abstract class Node
{
    /// <summary>A short name for messages ("conv2d", "vicreg_loss").</summary>
    public abstract string Name { get; }

    /// <summary>Computes the inputs' gradients from the output's and accumulates them.</summary>
    public abstract void Backward(Tensor gradOutput);

    /// <summary>Disposes what the forward kept for the backward.</summary>
    public virtual void ReleaseSaved() { }

    /// <summary>The tensor this node produced (set by the tape when recorded).</summary>
    public Tensor? Output { get; internal set; }

    /// <summary>Called by the tape once it has run or dropped this node: it no longer refers to its output, and a
    /// <see cref="PooledNode{TSelf}"/> goes back to its pool.</summary>
    internal virtual void Recycle() => Output = null;
}
