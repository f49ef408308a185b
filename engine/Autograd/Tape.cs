namespace Vicreg.Engine.Autograd;

/// <summary>
/// The per-thread record of differentiable ops, in the order they ran. <see cref="Backward"/> walks it
/// in reverse (a valid topological order, since an op runs after the ops that made its inputs), calls
/// each node whose output received a gradient, frees intermediate gradients and saved tensors as it
/// goes, and leaves the tape empty. Gradients of leaves accumulate across calls, as in PyTorch.
/// </summary>
public static class Tape
{
    [ThreadStatic] private static List<Node>? t_nodes;
    [ThreadStatic] private static int t_noGradDepth;
    [ThreadStatic] private static Action<Tensor>? t_leafGradientHook;
    [ThreadStatic] private static long t_recorded;

    private static List<Node> Nodes => t_nodes ??= new List<Node>(1024);

    /// <summary>True when ops should record nodes (not inside a no-grad scope).</summary>
    public static bool IsEnabled => t_noGradDepth == 0;

    /// <summary>Called on this thread after every addition into a leaf's gradient (e.g. to send the gradients that
    /// are complete while the backward goes on). One per thread; null removes it.</summary>
    public static Action<Tensor>? LeafGradientHook
    {
        get => t_leafGradientHook;
        set => t_leafGradientHook = value;
    }

    /// <summary>Number of nodes recorded and not yet consumed by a backward pass.</summary>
    public static int Count => t_nodes?.Count ?? 0;

    /// <summary>Number of nodes ever recorded on this thread (a tensor scope compares it to see whether a node of
    /// its own may still be on the tape).</summary>
    internal static long Recorded => t_recorded;

    /// <summary>True when any of the inputs needs a gradient and recording is on.</summary>
    public static bool NeedsGrad(Tensor a) => IsEnabled && a.RequiresGrad;
    /// <summary>True when either input needs a gradient and recording is on.</summary>
    public static bool NeedsGrad(Tensor a, Tensor b) => IsEnabled && (a.RequiresGrad || b.RequiresGrad);
    /// <summary>True when any non-null input needs a gradient and recording is on.</summary>
    public static bool NeedsGrad(params ReadOnlySpan<Tensor?> inputs)
    {
        if (!IsEnabled) return false;
        foreach (var t in inputs) if (t is { RequiresGrad: true }) return true;
        return false;
    }

    /// <summary>Records <paramref name="node"/> as the producer of <paramref name="output"/>. Ops call this only
    /// when <see cref="NeedsGrad(ReadOnlySpan{Tensor?})"/> held; the output then requires a gradient too.</summary>
    public static Tensor Record(Node node, Tensor output)
    {
        if (node.Output is not null) throw new InvalidOperationException($"autograd: a {node.Name} node was recorded twice");
        node.Output = output;
        output.GradFn = node;
        output.RequiresGrad = true;
        Nodes.Add(node);
        t_recorded++;
        return output;
    }

    /// <summary>Adds <paramref name="grad"/> into input.Grad and takes ownership of <paramref name="grad"/>
    /// (it is either adopted as the gradient or disposed). A leaf's adopted gradient leaves the current
    /// tensor scope, so it outlives the step that made it.</summary>
    public static void Accumulate(Tensor input, Tensor grad)
    {
        if (!input.RequiresGrad)
        {
            grad.Dispose();
            return;
        }
        if (grad.Shape != input.Shape)
            throw new ShapeMismatchException($"autograd: gradient {grad.Shape} does not match its tensor {input.Shape}" +
                (input.GradFn is { } fn ? $" (made by {fn.Name})" : ""));
        if (input.Grad is null)
        {
            if (input.IsLeaf) TensorScope.Detach(grad);
            input.Grad = grad;
        }
        else
        {
            input.Backend.Axpy(1, grad, input.Grad);
            grad.Dispose();
        }
        if (input.IsLeaf) t_leafGradientHook?.Invoke(input);
    }

    /// <summary>Back-propagates from a one-element tensor (seeded with gradient 1).</summary>
    public static void Backward(Tensor root)
    {
        if (root.Numel != 1) throw new InvalidOperationException($"Backward() needs a one-element tensor, got {root.Shape}");
        if (!root.RequiresGrad) throw new InvalidOperationException("Backward(): the tensor does not depend on anything that requires a gradient");
        root.Grad?.Dispose();
        root.Grad = Tensor.Full(root.Shape, 1, root.DType, root.Backend);
        var nodes = Nodes;
        try
        {
            for (int i = nodes.Count - 1; i >= 0; i--)
            {
                var node = nodes[i];
                var output = node.Output;
                // A pooled node or tensor used after it went back to its pool breaks this link; stop rather than
                // run a stranger's backward.
                if (output is null || !ReferenceEquals(output.GradFn, node))
                    throw new InvalidOperationException($"autograd: the tape's {node.GetType().Name} no longer produces its output (a node or tensor was used after its step ended)");
                var grad = output.Grad;
                if (grad is not null)
                {
                    node.Backward(grad);
                    if (!output.IsLeaf)
                    {
                        output.Grad = null;
                        grad.Dispose();
                    }
                }
                node.ReleaseSaved();
                output.GradFn = null;
                node.Recycle();
            }
        }
        finally
        {
            nodes.Clear();
        }
    }

    /// <summary>Forgets every recorded node without running it (e.g. after an evaluation that recorded by mistake).</summary>
    public static void Clear()
    {
        var nodes = Nodes;
        foreach (var n in nodes)
        {
            n.ReleaseSaved();
            if (n.Output is { } o) o.GradFn = null;
            n.Recycle();
        }
        nodes.Clear();
    }

    /// <summary>Within the returned scope, ops record nothing (evaluation, optimizer updates).</summary>
    public static NoGradScope NoGrad()
    {
        t_noGradDepth++;
        return new NoGradScope();
    }

    /// <summary>The scope <see cref="NoGrad"/> returns.</summary>
    public readonly struct NoGradScope : IDisposable
    {
        /// <summary>Ends the scope: recording resumes unless an outer one is still open.</summary>
        public void Dispose() => t_noGradDepth--;
    }
}
