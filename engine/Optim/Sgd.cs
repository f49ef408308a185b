namespace Vicreg.Engine.Optim;

/// <summary>SGD with momentum and (L2) weight decay, as torch.optim.SGD (dampening 0, no Nesterov); learning-rate
/// groups as <see cref="Optimizer"/> says.</summary>
public sealed class Sgd(IEnumerable<(string Name, Tensor Parameter)> parameters, double momentum = 0.9, double weightDecay = 0,
    Func<string, Tensor, double>? learningRateScale = null) : Optimizer(parameters, learningRateScale)
{
    /// <summary>One SGD step of <paramref name="parameter"/>.</summary>
    protected override void Update(Tensor parameter, Tensor grad, Tensor momentumBuffer, double lr)
        => parameter.Backend.SgdUpdate(parameter, grad, momentumBuffer, lr, weightDecay, momentum);
}
