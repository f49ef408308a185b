using Vicreg.Engine.Autograd;

namespace Vicreg.Engine;

public static partial class Ops
{
    /// <summary>Mean softmax cross-entropy of logits [N, K] against Int32 labels [N] (PyTorch's F.cross_entropy).</summary>
    public static Tensor CrossEntropy(Tensor logits, Tensor labels)
    {
        const string op = "cross_entropy";
        SameBackend(op, logits, labels);
        Floating(op, logits);
        ShapeMismatchException.Require(logits.Rank == 2 && labels.Rank == 1 && labels.Shape[0] == logits.Shape[0], op,
            "logits must be [N, K] and labels [N]", logits, labels);
        if (labels.DType != DType.Int32) throw new ShapeMismatchException($"{op}: labels must be int32, got {labels.DType.Name()}");
        var probabilities = Like(logits);
        var loss = New(logits, new Shape());
        logits.Backend.SoftmaxCrossEntropy(logits, labels, probabilities, loss);
        if (!Tape.NeedsGrad(logits))
        {
            probabilities.Dispose();
            return loss;
        }
        return Tape.Record(new CrossEntropyNode(logits, labels, probabilities), loss);
    }

    private sealed class CrossEntropyNode(Tensor logits, Tensor labels, Tensor probabilities) : Node
    {
        public override string Name => "cross_entropy";

        public override void Backward(Tensor dy)
        {
            // The upstream gradient is a scalar on the backend; one read per step is cheap next to the rest.
            double scale = dy.Item() / logits.Shape[0];
            var dlogits = Like(logits);
            dy.Backend.SoftmaxCrossEntropyBackward(probabilities, labels, scale, dlogits);
            Tape.Accumulate(logits, dlogits);
        }

        public override void ReleaseSaved() => probabilities.Dispose();
    }
}
