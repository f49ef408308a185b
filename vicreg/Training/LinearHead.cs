using Vicreg.Engine;
using Vicreg.Engine.Autograd;
using Vicreg.Engine.Nn;
using Vicreg.Engine.Optim;

namespace Vicreg.Training;

/// <summary>
/// The head of the official linear evaluation and its training rule, shared by both probe protocols:
/// Linear(dimension, classes) with weights N(0, 0.01) and zero bias, SGD with momentum 0.9 and weight
/// decay, the learning rate on a cosine schedule stepped per epoch.
/// </summary>
public sealed class LinearHead
{
    private readonly Linear _head;
    private readonly Sgd _optimizer;
    private readonly CosineEpochSchedule _schedule;
    private readonly int _classes;

    public LinearHead(int dimension, int classes, int epochs, double lr, double weightDecay, ulong seed, IBackend backend)
    {
        var rng = new Rng(seed);
        _head = new Linear(dimension, classes, bias: true, ref rng, backend: backend);
        Init.Normal(_head.Weight, 0, 0.01, ref rng);
        backend.Fill(_head.Bias!, 0);
        _optimizer = new Sgd(_head.NamedParameters(), momentum: 0.9, weightDecay: weightDecay);
        _schedule = new CosineEpochSchedule(lr, epochs);
        _classes = classes;
    }

    /// <summary>One SGD step on features <paramref name="x"/> [n, dimension] with labels <paramref name="y"/> [n];
    /// returns the batch's mean cross-entropy. Call it inside a <see cref="TensorScope"/>.</summary>
    public double Step(Tensor x, Tensor y, int epoch)
    {
        var loss = Ops.CrossEntropy(_head.Forward(x), y);
        double value = loss.Item();
        _optimizer.ZeroGrad();
        loss.Backward();
        _optimizer.Step(_schedule.At(epoch));
        return value;
    }

    /// <summary>Top-1 / top-5 of the head on features <paramref name="x"/> [n, dimension].</summary>
    public ProbeAccuracy Evaluate(Tensor x, ReadOnlySpan<int> labels)
    {
        using var scope = TensorScope.Begin();
        using var _ = Tape.NoGrad();
        var logits = _head.Forward(x).ToArray<float>();
        return LinearProbe.Accuracy(logits, labels, _classes);
    }
}
