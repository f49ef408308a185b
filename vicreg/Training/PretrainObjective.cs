using System.Text.Json;
using Vicreg.Engine;
using Vicreg.Engine.Distributed;
using Vicreg.Engine.Nn;
using Vicreg.Engine.Optim;

namespace Vicreg.Training;

/// <summary>One step's loss and its unweighted terms, in the order of <see cref="PretrainObjective.TermNames"/>
/// (a method with two terms leaves the third NaN).</summary>
public readonly record struct LossReading(double Loss, double Term0, double Term1, double Term2);

/// <summary>
/// What differs between the pretraining methods `vicreg pretrain --loss` offers, everything else (backbone, data,
/// loop, checkpoints, distribution) being shared: the expander's hidden layers, the loss and its terms, the
/// optimizer's learning-rate groups and the schedule's peak, and the learning rates a stats line records.
/// </summary>
public abstract class PretrainObjective(PretrainOptions options)
{
    protected PretrainOptions Options => options;

    public static PretrainObjective For(PretrainOptions o) =>
        o.Loss == PretrainOptions.BarlowTwins ? new BarlowTwinsObjective(o) : new VicregObjective(o);

    /// <summary>Whether the expander's hidden Linear layers have a bias.</summary>
    public abstract bool ExpanderHiddenBias { get; }

    /// <summary>The stats.txt names of the unweighted terms, in <see cref="LossReading"/>'s order.</summary>
    public abstract IReadOnlyList<string> TermNames { get; }

    /// <summary>The flag to lower when the loss diverges.</summary>
    public abstract string LearningRateFlag { get; }

    /// <summary>The schedule's peak: what <see cref="WarmupCosineSchedule"/> warms up to for the global batch.</summary>
    public abstract double PeakLearningRate { get; }

    /// <summary>The peak learning rate(s) for the start-up line, such as "peak lr 0.2".</summary>
    public abstract string DescribePeak();

    /// <summary>The warm-up + cosine schedule, stepped per iteration, of a run with this many steps an epoch. A fractional
    /// warm-up rounds to the nearest whole step.</summary>
    public WarmupCosineSchedule Schedule(int stepsPerEpoch) =>
        new(PeakLearningRate, (long)Math.Round(options.WarmupEpochs * stepsPerEpoch, MidpointRounding.AwayFromZero), (long)options.Epochs * stepsPerEpoch);

    /// <summary>LARS over the model's parameters, with the method's learning-rate groups.</summary>
    public abstract Lars CreateOptimizer(Module model);

    /// <summary>The loss of this rank's embeddings (differentiable; global-batch semantics over the communicator's ranks).</summary>
    public abstract Tensor Forward(Tensor za, Tensor zb, ICommunicator communicator, out Tensor terms);

    /// <summary>The unweighted terms <see cref="Forward"/> returned, read to the host (waits for the device), with their weighted sum.</summary>
    public abstract LossReading Read(Tensor terms);

    /// <summary>The learning rate of each group at a schedule value, as stats.txt records it.</summary>
    public abstract void WriteLearningRates(Utf8JsonWriter json, double lr);

    public void WriteTerms(Utf8JsonWriter json, LossReading reading)
    {
        json.WriteNumber("loss", reading.Loss);
        var names = TermNames;
        for (int i = 0; i < names.Count; i++) json.WriteNumber(names[i], Term(reading, i));
    }

    /// <summary>The progress line's account of the terms, such as "inv 0.1234 var 0.0100 cov 0.0020".</summary>
    public abstract string Describe(LossReading reading);

    private static double Term(LossReading r, int index) => index switch { 0 => r.Term0, 1 => r.Term1, _ => r.Term2 };
}
