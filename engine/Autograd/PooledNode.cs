namespace Vicreg.Engine.Autograd;

/// <summary>
/// A tape node that goes back to a per-thread pool (<see cref="Recycler{T}"/>) once the tape has run or dropped it,
/// so that the ops of a steady training step record their nodes without allocating. An op takes one with
/// <see cref="Rent"/> and sets its fields; <see cref="Clear"/> forgets them again, so a pooled node keeps no tensor
/// alive. Returning a node twice throws.
/// </summary>
public abstract class PooledNode<TSelf> : Node where TSelf : PooledNode<TSelf>, new()
{
    private bool _rented;

    /// <summary>A node of this type: one given back on this thread, else a new one.</summary>
    protected static TSelf Rent()
    {
        var node = Recycler<TSelf>.Take() ?? new TSelf();
        node._rented = true;
        return node;
    }

    /// <summary>Drops every reference the node's fields hold.</summary>
    protected abstract void Clear();

    internal sealed override void Recycle()
    {
        if (!_rented) throw new InvalidOperationException($"autograd: a {typeof(TSelf).Name} was returned to its pool twice");
        _rented = false;
        Clear();
        base.Recycle();
        Recycler<TSelf>.Return((TSelf)this);
    }
}
