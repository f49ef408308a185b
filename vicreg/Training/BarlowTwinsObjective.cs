using System.Text.Json;
using Vicreg.Engine;
using Vicreg.Engine.Distributed;
using Vicreg.Engine.Nn;
using Vicreg.Engine.Optim;
using Vicreg.Losses;

namespace Vicreg.Training;

/// <summary>
/// Barlow Twins as the official main.py (facebookresearch/barlowtwins, the version with --learning-rate-biases, which
/// replaced the older --scale-loss: the loss is not scaled): projector without biases, loss
/// sum_i (1 - c_ii)^2 + lambd · sum_{i != j} c_ij^2 on the global batch, and LARS with two parameter groups: the weights
/// (more than one dimension) step with lr × --learning-rate-weights, the biases and batch-norm parameters (one dimension)
/// with lr × --learning-rate-biases, where lr is batch/256 times the warm-up + cosine schedule (adjust_learning_rate).
/// LARS itself leaves the one-dimensional parameters out of weight decay and the trust ratio, as the official filters do.
/// </summary>
public sealed class BarlowTwinsObjective(PretrainOptions o) : PretrainObjective(o)
{
    private static readonly string[] s_terms = ["on_diagonal", "off_diagonal"];
    private readonly BarlowTwinsLoss _loss = new(o.Lambd);

    public override bool ExpanderHiddenBias => false;
    public override IReadOnlyList<string> TermNames => s_terms;
    public override string LearningRateFlag => "--learning-rate-weights";

    public override double PeakLearningRate => Options.BatchSize / 256.0;

    public override string DescribePeak() =>
        $"peak lr {PeakLearningRate * Options.LearningRateWeights:G3} (weights), {PeakLearningRate * Options.LearningRateBiases:G3} (biases and batch norm)";

    /// <summary>The official grouping: <c>param.ndim == 1</c> goes with the biases.</summary>
    public static bool IsBiasGroup(Tensor parameter) => parameter.Rank == 1;

    public override Lars CreateOptimizer(Module model) => new(model.NamedParameters(), Options.WeightDecay, momentum: 0.9, eta: Options.LarsEta,
        learningRateScale: (_, p) => IsBiasGroup(p) ? Options.LearningRateBiases : Options.LearningRateWeights);

    public override Tensor Forward(Tensor za, Tensor zb, ICommunicator communicator, out Tensor terms)
    {
        var (loss, t) = _loss.Forward(za, zb, communicator);
        terms = t;
        return loss;
    }

    public override LossReading Read(Tensor terms)
    {
        Span<double> v = stackalloc double[2];
        terms.ReadSmall(v);
        return new LossReading(v[0] + Options.Lambd * v[1], v[0], v[1], double.NaN);
    }

    public override void WriteLearningRates(Utf8JsonWriter json, double lr)
    {
        json.WriteNumber("lr_weights", lr * Options.LearningRateWeights);
        json.WriteNumber("lr_biases", lr * Options.LearningRateBiases);
    }

    public override string Describe(LossReading r) => $"on {r.Term0:F4} off {r.Term1:F4}";
}
