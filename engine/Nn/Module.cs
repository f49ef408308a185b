namespace Vicreg.Engine.Nn;

/// <summary>
/// A layer or model: named parameters (leaves that require a gradient), named buffers (state that is
/// saved but not trained, like running statistics) and named children, listed in registration order
/// so that <see cref="StateDict"/> yields PyTorch's names and order ("layer1.0.conv1.weight").
/// Parameters and buffers live outside any tensor scope: they belong to the module.
/// </summary>
public abstract class Module
{
    private readonly List<(string Name, Tensor Tensor)> _parameters = [];
    private readonly List<(string Name, Tensor Tensor)> _buffers = [];
    private readonly List<(string Name, Module Module)> _children = [];

    /// <summary>True in training mode (batch statistics in batch norm), false in evaluation mode.</summary>
    public bool Training { get; private set; } = true;

    /// <summary>The module applied to <paramref name="x"/>; recorded on the tape when a parameter requires a gradient.</summary>
    public abstract Tensor Forward(Tensor x);

    /// <summary>Adds a trainable tensor under <paramref name="name"/> (PyTorch's parameter), long-lived, requiring a gradient.</summary>
    protected Tensor RegisterParameter(string name, Tensor t)
    {
        TensorScope.Detach(t);
        t.RequiresGrad = true;
        t.Name = name;
        _parameters.Add((name, t));
        return t;
    }

    /// <summary>Adds a state tensor that is not trained (a running mean) under <paramref name="name"/>, long-lived.</summary>
    protected Tensor RegisterBuffer(string name, Tensor t)
    {
        TensorScope.Detach(t);
        t.Name = name;
        _buffers.Add((name, t));
        return t;
    }

    /// <summary>Adds a child module under <paramref name="name"/>: its state is named "name.*".</summary>
    protected T RegisterModule<T>(string name, T module) where T : Module
    {
        _children.Add((name, module));
        return module;
    }

    /// <summary>The child modules, in registration order.</summary>
    public IEnumerable<(string Name, Module Module)> Children => _children;

    /// <summary>Called on this module and every descendant after a load wrote new values into their parameters and
    /// buffers (StateDictFile.Load), so that a module mirroring a buffer in a field can re-read it.</summary>
    public void StateLoaded()
    {
        OnStateLoaded();
        foreach (var (_, child) in _children) child.StateLoaded();
    }

    /// <summary>What this module does after a load (see <see cref="StateLoaded"/>); nothing by default.</summary>
    protected virtual void OnStateLoaded() { }

    /// <summary>Every parameter of this module and its descendants, with its dotted name after <paramref name="prefix"/>.</summary>
    public IEnumerable<(string Name, Tensor Tensor)> NamedParameters(string prefix = "")
    {
        foreach (var (n, t) in _parameters) yield return (prefix + n, t);
        foreach (var (n, m) in _children)
            foreach (var p in m.NamedParameters(prefix + n + ".")) yield return p;
    }

    /// <summary>Every buffer of this module and its descendants, with its dotted name after <paramref name="prefix"/>.</summary>
    public IEnumerable<(string Name, Tensor Tensor)> NamedBuffers(string prefix = "")
    {
        foreach (var (n, t) in _buffers) yield return (prefix + n, t);
        foreach (var (n, m) in _children)
            foreach (var b in m.NamedBuffers(prefix + n + ".")) yield return b;
    }

    /// <summary>Parameters and buffers in PyTorch's state_dict order: each module's own parameters, then its
    /// own buffers, then its children's, depth first.</summary>
    public IEnumerable<(string Name, Tensor Tensor)> StateDict(string prefix = "")
    {
        foreach (var (n, t) in _parameters) yield return (prefix + n, t);
        foreach (var (n, t) in _buffers) yield return (prefix + n, t);
        foreach (var (n, m) in _children)
            foreach (var e in m.StateDict(prefix + n + ".")) yield return e;
    }

    /// <summary>Every parameter of this module and its descendants.</summary>
    public IEnumerable<Tensor> Parameters() => NamedParameters().Select(p => p.Tensor);

    /// <summary>The number of trainable elements.</summary>
    public long ParameterCount() => Parameters().Sum(p => p.Numel);

    /// <summary>Sets training mode (or evaluation mode, with false) on this module and every descendant.</summary>
    public void Train(bool training = true)
    {
        Training = training;
        foreach (var (_, m) in _children) m.Train(training);
    }

    /// <summary>Evaluation mode: batch norms use their running statistics.</summary>
    public void Eval() => Train(false);

    /// <summary>Fills every parameter's gradient with zeros (the buffers are kept, as PyTorch's set_to_none=False).</summary>
    public void ZeroGrad()
    {
        foreach (var p in Parameters())
            if (p.Grad is { } g) g.Backend.Fill(g, 0);
    }

    /// <summary>Sets or clears requires-grad on every parameter (a frozen backbone has none).</summary>
    public void RequiresGrad(bool value)
    {
        foreach (var p in Parameters()) p.RequiresGrad = value;
    }
}
