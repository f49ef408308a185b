namespace Vicreg.Engine.Optim;

/// <summary>
/// Base of the momentum optimizers: one momentum buffer per parameter, created on the first step
/// (outside any tensor scope, so it lives as long as the optimizer) and exposed by parameter name for
/// checkpoints. <see cref="Step"/> takes the learning rate for this step from the caller's schedule.
/// Learning-rate groups (PyTorch's param_groups with their own "lr", all following one schedule) are a
/// <c>learningRateScale</c>: a parameter's step uses lr × scale(name, parameter); without one, every scale is 1.
/// </summary>
public abstract class Optimizer
{
    /// <summary>The parameters, with their names.</summary>
    protected readonly List<(string Name, Tensor Parameter)> Parameters;
    private readonly double[] _scales;
    private readonly Dictionary<Tensor, Tensor> _momentum = new(ReferenceEqualityComparer.Instance);

    /// <summary>An optimizer of <paramref name="parameters"/>, each stepping with lr × <paramref name="learningRateScale"/>(name, parameter) (1 without it).</summary>
    protected Optimizer(IEnumerable<(string Name, Tensor Parameter)> parameters, Func<string, Tensor, double>? learningRateScale = null)
    {
        Parameters = parameters.ToList();
        if (Parameters.Count == 0) throw new ArgumentException("an optimizer needs at least one parameter");
        _scales = Parameters.Select(p => learningRateScale?.Invoke(p.Name, p.Parameter) ?? 1.0).ToArray();
    }

    /// <summary>The learning rate the parameter named <paramref name="name"/> steps with when <see cref="Step"/> gets <paramref name="lr"/>.</summary>
    public double LearningRateOf(string name, double lr) => lr * _scales[Parameters.FindIndex(p => p.Name == name)];

    /// <summary>Updates every parameter that has a gradient, each with lr times its group's scale.</summary>
    public void Step(double lr)
    {
        using var _ = Autograd.Tape.NoGrad();
        for (int i = 0; i < Parameters.Count; i++)
        {
            var p = Parameters[i].Parameter;
            if (p.Grad is null) continue;
            Update(p, p.Grad, MomentumOf(p), lr * _scales[i]);
        }
    }

    /// <summary>One step of <paramref name="parameter"/> from <paramref name="grad"/>, with its <paramref name="momentum"/> buffer and learning rate <paramref name="lr"/>.</summary>
    protected abstract void Update(Tensor parameter, Tensor grad, Tensor momentum, double lr);

    private Tensor MomentumOf(Tensor p)
    {
        if (!_momentum.TryGetValue(p, out var m))
        {
            m = TensorScope.Detach(Tensor.Zeros(p.Shape, p.DType, p.Backend));
            _momentum[p] = m;
        }
        return m;
    }

    /// <summary>Momentum buffers by parameter name ("layer1.0.conv1.weight"), created if missing (for saving and loading).</summary>
    public IEnumerable<(string Name, Tensor Momentum)> State() => Parameters.Select(p => (p.Name, MomentumOf(p.Parameter)));

    /// <summary>Fills every parameter's gradient with zeros.</summary>
    public void ZeroGrad()
    {
        foreach (var (_, p) in Parameters)
            if (p.Grad is { } g) g.Backend.Fill(g, 0);
    }
}
