namespace Vicreg.Engine.Optim;

/// <summary>
/// LARS as the official VICReg code: for parameters with more than one dimension, weight decay is added
/// to the gradient and the result scaled by the trust ratio eta·‖w‖/‖g‖; biases and batch-norm
/// parameters (1-D) get neither (the official exclude_bias_and_norm filter). Learning-rate groups (Barlow Twins'
/// separate rates for weights and biases) as <see cref="Optimizer"/> says.
/// </summary>
public sealed class Lars(IEnumerable<(string Name, Tensor Parameter)> parameters, double weightDecay = 1e-6, double momentum = 0.9, double eta = 0.001,
    Func<string, Tensor, double>? learningRateScale = null)
    : Optimizer(parameters, learningRateScale)
{
    /// <summary>The weight decay added to multi-dimensional parameters' gradients.</summary>
    public double WeightDecay => weightDecay;
    /// <summary>The trust coefficient.</summary>
    public double Eta => eta;

    /// <summary>One LARS step of <paramref name="parameter"/>.</summary>
    protected override void Update(Tensor parameter, Tensor grad, Tensor momentumBuffer, double lr)
    {
        bool adapt = parameter.Rank > 1;
        parameter.Backend.LarsUpdate(parameter, grad, momentumBuffer, lr, adapt ? weightDecay : 0, momentum, eta, adapt);
    }
}
