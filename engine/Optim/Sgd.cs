namespace Vicreg.Engine.Optim;

/// <summary>SGD with momentum and (L2) weight decay, as torch.optim.SGD (dampening 0, no Nesterov).</summary>
public sealed class Sgd(IEnumerable<(string Name, Tensor Parameter)> parameters, double momentum = 0.9, double weightDecay = 0) : Optimizer(parameters)
{
    protected override void Update(Tensor parameter, Tensor grad, Tensor momentumBuffer, double lr)
        => parameter.Backend.SgdUpdate(parameter, grad, momentumBuffer, lr, weightDecay, momentum);
}
