using System.Text.Json;
using Vicreg.Engine;
using Vicreg.Engine.Distributed;
using Vicreg.Engine.Nn;
using Vicreg.Engine.Optim;
using Vicreg.Losses;

namespace Vicreg.Training;

/// <summary>VICReg (the official main_vicreg.py): expander with biased hidden layers, the three-term loss, LARS with one
/// learning rate, peaking at --base-lr × batch/256.</summary>
public sealed class VicregObjective(PretrainOptions o) : PretrainObjective(o)
{
    private static readonly string[] s_terms = ["invariance", "variance", "covariance"];
    private readonly VicregLoss _loss = new(o.SimCoeff, o.StdCoeff, o.CovCoeff);

    public override bool ExpanderHiddenBias => true;
    public override IReadOnlyList<string> TermNames => s_terms;
    public override string LearningRateFlag => "--base-lr";

    public override double PeakLearningRate => Options.BaseLr * Options.BatchSize / 256;

    public override string DescribePeak() => $"peak lr {PeakLearningRate:G3}";

    public override Lars CreateOptimizer(Module model) => new(model.NamedParameters(), Options.WeightDecay, momentum: 0.9, eta: Options.LarsEta);

    public override Tensor Forward(Tensor za, Tensor zb, ICommunicator communicator, out Tensor terms)
    {
        var result = _loss.Forward(za, zb, communicator);
        terms = result.Terms;
        return result.Loss;
    }

    public override LossReading Read(Tensor terms)
    {
        var t = VicregTerms.Read(terms);
        return new LossReading(t.Weighted(Options.SimCoeff, Options.StdCoeff, Options.CovCoeff), t.Invariance, t.Variance, t.Covariance);
    }

    public override void WriteLearningRates(Utf8JsonWriter json, double lr) => json.WriteNumber("lr", lr);

    public override string Describe(LossReading r) => $"inv {r.Term0:F4} var {r.Term1:F4} cov {r.Term2:F4}";
}
