namespace Vicreg.Engine.Optim;

/// <summary>
/// Base of the momentum optimisers: one momentum buffer per parameter, created on the first step
/// (outside any tensor scope, so it lives as long as the optimiser) and exposed by parameter name for
/// checkpoints. <see cref="Step"/> takes the learning rate for this step from the caller's schedule.
/// </summary>
public abstract class Optimizer
{
    protected readonly List<(string Name, Tensor Parameter)> Parameters;
    private readonly Dictionary<Tensor, Tensor> _momentum = new(ReferenceEqualityComparer.Instance);

    protected Optimizer(IEnumerable<(string Name, Tensor Parameter)> parameters)
    {
        Parameters = parameters.ToList();
        if (Parameters.Count == 0) throw new ArgumentException("an optimiser needs at least one parameter");
    }

    /// <summary>Updates every parameter that has a gradient.</summary>
    public void Step(double lr)
    {
        using var _ = Autograd.Tape.NoGrad();
        foreach (var (_, p) in Parameters)
        {
            if (p.Grad is null) continue;
            Update(p, p.Grad, MomentumOf(p), lr);
        }
    }

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

    public void ZeroGrad()
    {
        foreach (var (_, p) in Parameters)
            if (p.Grad is { } g) g.Backend.Fill(g, 0);
    }
}

/// <summary>SGD with momentum and (L2) weight decay, as torch.optim.SGD (dampening 0, no Nesterov).</summary>
public sealed class Sgd(IEnumerable<(string Name, Tensor Parameter)> parameters, double momentum = 0.9, double weightDecay = 0) : Optimizer(parameters)
{
    protected override void Update(Tensor parameter, Tensor grad, Tensor momentumBuffer, double lr)
        => parameter.Backend.SgdUpdate(parameter, grad, momentumBuffer, lr, weightDecay, momentum);
}

/// <summary>
/// LARS as the official VICReg code: for parameters with more than one dimension, weight decay is added
/// to the gradient and the result scaled by the trust ratio eta·‖w‖/‖g‖; biases and batch-norm
/// parameters (1-D) get neither (the official exclude_bias_and_norm filter).
/// </summary>
public sealed class Lars(IEnumerable<(string Name, Tensor Parameter)> parameters, double weightDecay = 1e-6, double momentum = 0.9, double eta = 0.001)
    : Optimizer(parameters)
{
    public double WeightDecay => weightDecay;
    public double Eta => eta;

    protected override void Update(Tensor parameter, Tensor grad, Tensor momentumBuffer, double lr)
    {
        bool adapt = parameter.Rank > 1;
        parameter.Backend.LarsUpdate(parameter, grad, momentumBuffer, lr, adapt ? weightDecay : 0, momentum, eta, adapt);
    }
}
