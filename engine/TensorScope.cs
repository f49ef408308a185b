using Vicreg.Engine.Autograd;

namespace Vicreg.Engine;

/// <summary>
/// Disposes, at its end, every tensor created while it was the innermost scope on this thread, except
/// those handed to <see cref="Keep"/>. A training step runs inside one, so its intermediates return to
/// the caching allocator deterministically and the steady state takes nothing new from it.
/// Scope objects and their lists are pooled per thread, so beginning a scope allocates nothing; the tensors it
/// disposes are recycled (see <see cref="Tensor"/>) unless a tape node recorded in the scope may still read them.
/// </summary>
public sealed class TensorScope : IDisposable
{
    [ThreadStatic] private static TensorScope? t_current;
    [ThreadStatic] private static Stack<TensorScope>? t_pool;

    private readonly List<Tensor> _owned = new(256);
    private TensorScope? _parent;
    private bool _active;
    private long _recordedAtBegin;

    private TensorScope() { }

    /// <summary>Begins a scope on this thread, inside the current one; dispose it (a <c>using</c>) to end it.</summary>
    public static TensorScope Begin()
    {
        t_pool ??= new Stack<TensorScope>();
        var scope = t_pool.Count > 0 ? t_pool.Pop() : new TensorScope();
        scope._parent = t_current;
        scope._active = true;
        scope._recordedAtBegin = Tape.Recorded;
        t_current = scope;
        return scope;
    }

    internal static void Register(Tensor t) => t_current?._owned.Add(t);

    /// <summary>Takes a tensor out of the innermost scope so that nothing disposes it automatically
    /// (a parameter's gradient, optimizer state, a value returned to the caller).</summary>
    public static Tensor Detach(Tensor t)
    {
        var owned = t_current?._owned;
        if (owned is null) return t;
        int i = owned.LastIndexOf(t);
        if (i >= 0) owned.RemoveAt(i);
        return t;
    }

    /// <summary>Hands a tensor to the enclosing scope (or to nobody, outside any scope), so it outlives this one.</summary>
    public Tensor Keep(Tensor t)
    {
        int i = _owned.LastIndexOf(t);
        if (i >= 0)
        {
            _owned.RemoveAt(i);
            _parent?._owned.Add(t);
        }
        return t;
    }

    /// <summary>Ends the scope: disposes every tensor created in it and not detached or kept.</summary>
    public void Dispose()
    {
        if (!_active) return;
        if (t_current != this) throw new InvalidOperationException("tensor scopes must end in the reverse order they began");
        for (int i = _owned.Count - 1; i >= 0; i--) _owned[i].Dispose();
        // A node recorded in this scope and still on the tape would release or unlink its tensors later, so they are
        // only recycled when no such node is left (the tape ran, or nothing was recorded; earlier nodes cannot
        // reference tensors made after them).
        if (Tape.Count == 0 || Tape.Recorded == _recordedAtBegin)
            foreach (var t in _owned) t.Recycle();
        _owned.Clear();
        t_current = _parent;
        _parent = null;
        _active = false;
        t_pool!.Push(this);
    }
}
