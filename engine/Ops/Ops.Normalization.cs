using Vicreg.Engine.Autograd;

namespace Vicreg.Engine;

public static partial class Ops
{
    /// <summary>The checks every batch normalization makes (x is [N, C] or [N, C, H, W]; each per-channel tensor
    /// given is [C]), and x read as [outer = N, channels = C, inner = H·W].</summary>
    private static (int N, int C, int Inner) CheckBatchNorm(string op, Tensor x, Tensor? gamma, Tensor? beta, Tensor? runningMean, Tensor? runningVar)
    {
        Floating(op, x);
        ShapeMismatchException.Require(x.Rank is 2 or 4, op, "input must be [N, C] or [N, C, H, W]", x);
        int n = x.Shape[0], c = x.Shape[1], inner = x.Rank == 4 ? x.Shape.Product(2, 4) : 1;
        foreach (var p in (ReadOnlySpan<Tensor?>)[gamma, beta, runningMean, runningVar])
            // Not Require: its message would be formatted on every call.
            if (p is not null && !(p.Rank == 1 && p.Shape[0] == c))
                throw new ShapeMismatchException($"{op}: per-channel tensors must be [{c}] (got {p.Shape} and {x.Shape})");
        return (n, c, inner);
    }

    /// <summary>
    /// Batch normalization of x [N, C] or [N, C, H, W] over every axis but the channel axis, as PyTorch's
    /// BatchNorm1d/2d. Training: batch statistics (biased variance) normalize, and the running statistics,
    /// when given, move by <paramref name="momentum"/> towards the batch's (unbiased variance).
    /// Evaluation: the running statistics normalize. gamma and beta may be null (affine=False).
    /// </summary>
    public static Tensor BatchNorm(Tensor x, Tensor? gamma, Tensor? beta, Tensor? runningMean, Tensor? runningVar,
        bool training, double momentum = 0.1, double eps = 1e-5)
    {
        const string op = "batch_norm";
        var layout = CheckBatchNorm(op, x, gamma, beta, runningMean, runningVar);
        if (!training)
        {
            if (runningMean is null || runningVar is null) throw new InvalidOperationException($"{op}: evaluation mode needs running statistics");
            if (Tape.NeedsGrad(x, gamma, beta, runningMean, runningVar)) return BatchNormEvaluation(x, gamma, beta, runningMean, runningVar, eps);
            var inferred = Like(x);
            x.Backend.BatchNormInference(x, gamma, beta, runningMean, runningVar, eps, inferred);
            return inferred;
        }
        return BatchNormTraining(op, layout, x, gamma, beta, runningMean, runningVar, momentum, eps, relu: false);
    }

    /// <summary>
    /// ReLU(BatchNorm(x)), the pattern of every ResNet block and expander layer, with the same values, gradients and
    /// running statistics as <see cref="Relu"/> of <see cref="BatchNorm"/>. In training one kernel normalizes and
    /// clamps in the same pass and one node runs both backwards, reading ReLU's mask from the output's sign, so the
    /// values before the ReLU are never stored. Evaluation mode is the two ops as they are.
    /// </summary>
    public static Tensor BatchNormRelu(Tensor x, Tensor? gamma, Tensor? beta, Tensor? runningMean, Tensor? runningVar,
        bool training, double momentum = 0.1, double eps = 1e-5)
    {
        if (!training) return Relu(BatchNorm(x, gamma, beta, runningMean, runningVar, training: false, momentum, eps));
        const string op = "batch_norm_relu";
        var layout = CheckBatchNorm(op, x, gamma, beta, runningMean, runningVar);
        return BatchNormTraining(op, layout, x, gamma, beta, runningMean, runningVar, momentum, eps, relu: true);
    }

    /// <summary>The training mode of <see cref="BatchNorm"/> (then of ReLU when <paramref name="relu"/>), on checked arguments.</summary>
    private static Tensor BatchNormTraining(string op, (int N, int C, int Inner) layout, Tensor x, Tensor? gamma, Tensor? beta, Tensor? runningMean, Tensor? runningVar,
        double momentum, double eps, bool relu)
    {
        var (n, c, inner) = layout;
        if (n * inner < 2) throw new ShapeMismatchException($"{op}: training needs more than one value per channel (got input {x.Shape})");
        var y = Like(x);
        var mean = New(x, new Shape(c));
        var invStd = New(x, new Shape(c));
        if (relu) x.Backend.BatchNormReluTraining(x, gamma, beta, runningMean, runningVar, momentum, eps, y, mean, invStd);
        else x.Backend.BatchNormTraining(x, gamma, beta, runningMean, runningVar, momentum, eps, y, mean, invStd);
        if (!Tape.NeedsGrad(x, gamma, beta))
        {
            mean.Dispose();
            invStd.Dispose();
            return y;
        }
        return Tape.Record(BatchNormNode.Of(x, gamma, beta, mean, invStd, relu), y);
    }

    private sealed class BatchNormNode : PooledNode<BatchNormNode>
    {
        private Tensor _x = null!, _mean = null!, _invStd = null!;
        private Tensor? _gamma, _beta;
        private bool _relu;

        public static BatchNormNode Of(Tensor x, Tensor? gamma, Tensor? beta, Tensor mean, Tensor invStd, bool relu)
        {
            var node = Rent();
            (node._x, node._gamma, node._beta, node._mean, node._invStd, node._relu) = (x, gamma, beta, mean, invStd, relu);
            return node;
        }

        protected override void Clear() => (_x, _gamma, _beta, _mean, _invStd) = (null!, null, null, null!, null!);

        public override string Name => _relu ? "batch_norm_relu" : "batch_norm";

        public override void Backward(Tensor dy)
        {
            var dx = _x.RequiresGrad ? Like(_x) : null;
            var dgamma = _gamma is { RequiresGrad: true } ? Like(_gamma) : null;
            var dbeta = _beta is { RequiresGrad: true } ? Like(_beta) : null;
            // The kernel always computes dx; give it scratch when x needs no gradient.
            var dxTarget = dx ?? Like(_x);
            // The fused ReLU's mask is the sign of this node's output, which lives until the step's scope ends.
            if (_relu) dy.Backend.BatchNormReluBackward(_x, Output!, dy, _gamma, _mean, _invStd, dxTarget, dgamma, dbeta);
            else dy.Backend.BatchNormBackward(_x, dy, _gamma, _mean, _invStd, dxTarget, dgamma, dbeta);
            if (dx is not null) Tape.Accumulate(_x, dx); else dxTarget.Dispose();
            if (dgamma is not null) Tape.Accumulate(_gamma!, dgamma);
            if (dbeta is not null) Tape.Accumulate(_beta!, dbeta);
        }

        public override void ReleaseSaved()
        {
            _mean.Dispose();
            _invStd.Dispose();
        }
    }

    /// <summary>Evaluation mode as a composite of primitives, y = (x - mean[c]) · scale[c] + beta[c] with
    /// scale = gamma / sqrt(running_var + eps): taken when something needs a gradient (a frozen backbone
    /// fine-tuned in evaluation mode), so every input's gradient, gamma's and beta's included, comes from the
    /// parts. Without a gradient the fused BatchNormInference kernel computes the same map in one pass.</summary>
    private static Tensor BatchNormEvaluation(Tensor x, Tensor? gamma, Tensor? beta, Tensor runningMean, Tensor runningVar, double eps)
    {
        var scale = Reciprocal(Sqrt(AddScalar(runningVar, eps)));
        if (gamma is not null) scale = Mul(scale, gamma);
        var scaleEverywhere = AddChannelVector(Tensor.ZerosLike(x), scale);
        var y = Mul(AddChannelVector(x, runningMean, -1), scaleEverywhere);
        return beta is null ? y : AddChannelVector(y, beta);
    }
}
