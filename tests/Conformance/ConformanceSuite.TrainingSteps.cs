using Vicreg.Engine;
using Vicreg.Engine.Autograd;
using Vicreg.Engine.Optim;
using Vicreg.Losses;
using Vicreg.Engine.Models;
using Vicreg.Training;
using static Vicreg.Tests.Conformance.ConformanceData;

namespace Vicreg.Tests.Conformance;

// A few VICReg training steps (a tiny ResNet-18 and expander, LARS) on the backend under test, beside the same
// steps on a baseline backend: every kernel family at once, in the order training calls them.
public abstract partial class ConformanceSuite
{
    /// <summary>Whose losses the training steps are compared with: the CPU's (for the CPU itself, the reference's).</summary>
    protected abstract IBackend TrainingBaseline { get; }

    /// <summary>Three steps through 18 convolutions, 21 batch norms (each dividing by a batch standard deviation of
    /// 6 images) and LARS, in float32 with different summation orders: differences of a few 1e-6 per kernel grow
    /// through the steps, so the losses are held to 1e-3 relative; a wrong kernel moves them by far more.</summary>
    private const double TrainingTolerance = 1e-3;

    [SkippableFact]
    public void VicregTrainingStepsMatchTheBaseline()
    {
        var backend = Backend;
        var expected = TrainingLosses(TrainingBaseline);
        var actual = TrainingLosses(backend);
        AssertClose(expected, actual, TrainingTolerance, 0, $"VICReg loss by step on {backend.Name} vs {TrainingBaseline.Name}");
    }

    /// <summary>The losses of three steps from one seed: the same weights and images on every backend.</summary>
    private static double[] TrainingLosses(IBackend on)
    {
        const int batch = 6, size = 9, steps = 3;
        var rng = new Rng(61);
        var backbone = Backbones.Create("resnet18", ResNetStem.Cifar, 0.125, 1, ref rng, backend: on);
        var model = new VicregModel(backbone, Expander.Create(backbone.RepresentationSize, "16-16", ref rng, backend: on));
        var optimizer = new Lars(model.NamedParameters(), weightDecay: 1e-4, momentum: 0.9, eta: 0.02);
        var loss = new VicregLoss();
        var losses = new double[steps];
        for (int step = 0; step < steps; step++)
        {
            using var scope = TensorScope.Begin();
            try
            {
                var a = On(on, Random(batch * size * size, 62 + (ulong)step), batch, 1, size, size);
                var b = On(on, Random(batch * size * size, 72 + (ulong)step), batch, 1, size, size);
                var output = loss.Forward(model.Forward(a), model.Forward(b));
                losses[step] = output.Loss.Item();
                optimizer.ZeroGrad();
                output.Loss.Backward();
                optimizer.Step(0.3);
            }
            finally
            {
                Tape.Clear();
            }
        }
        return losses;
    }
}
