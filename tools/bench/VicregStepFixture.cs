using Vicreg.Engine;
using Vicreg.Engine.Distributed;
using Vicreg.Engine.Optim;
using Vicreg.Losses;
using Vicreg.Engine.Models;
using Vicreg.Training;

namespace Vicreg.Bench;

/// <summary>One VICReg training step on fixed random views, as the benchmark sections time it:
/// a ResNet-18 backbone (cifar stem) with an expander, LARS, and the VICReg loss. Given a communicator of
/// several ranks, the step is a data-parallel one as pretraining runs it (<see cref="DataParallel"/>):
/// synchronised BatchNorms, gathered embeddings, averaged gradients; <c>batch</c> is then this rank's share.</summary>
public sealed class VicregStepFixture : IDisposable
{
    private readonly VicregModel _model;
    private readonly Lars _optimizer;
    private readonly VicregLoss _loss = new();
    private readonly Tensor _viewA, _viewB;
    private readonly DataParallel _parallel;

    public int Batch { get; }

    public VicregStepFixture(double width, int channels, int size, int batch, string mlp, IBackend? backend = null, ICommunicator? communicator = null,
        string arch = "resnet18", ResNetStem stem = ResNetStem.Cifar)
    {
        Batch = batch;
        // Every rank builds the same weights (same seed) but draws its own views.
        var rng = new Rng(0);
        var backbone = Backbones.Create(arch, stem, width, channels, ref rng, backend: backend);
        _model = new VicregModel(backbone, Expander.Create(backbone.RepresentationSize, mlp, ref rng, backend: backend));
        _optimizer = new Lars(_model.NamedParameters(), weightDecay: 1e-6);
        _parallel = new DataParallel(communicator ?? SingleProcessCommunicator.Instance);
        _parallel.Attach(_model);
        var dataRng = new Rng(1 + (ulong)_parallel.Communicator.Rank);
        var shape = new Shape(batch, channels, size, size);
        _viewA = RandomNormal(shape, ref dataRng, backend);
        _viewB = RandomNormal(shape, ref dataRng, backend);
    }

    /// <summary>Forward of both views, loss, backward, LARS update; the step's intermediates are released at its end.</summary>
    public void Step()
    {
        using var scope = TensorScope.Begin();
        var output = _loss.Forward(_model.Forward(_viewA), _model.Forward(_viewB), _parallel.Communicator);
        _optimizer.ZeroGrad();
        output.Loss.Backward();
        _parallel.AverageGradients();
        _optimizer.Step(0.05);
    }

    public void Dispose() => _parallel.Dispose();

    private static Tensor RandomNormal(Shape shape, ref Rng rng, IBackend? backend)
    {
        var values = new float[shape.Numel];
        for (int i = 0; i < values.Length; i++) values[i] = (float)rng.NextNormal();
        return Tensor.FromArray<float>(values, shape, backend);
    }
}
