using Vicreg.Engine.Autograd;

namespace Vicreg.Engine;

public static partial class Ops
{
    /// <summary>The checks every batch normalisation makes (x is [N, C] or [N, C, H, W]; each per-channel tensor
    /// given is [C]), and x read as [outer = N, channels = C, inner = H·W].</summary>
    private static (int N, int C, int Inner) CheckBatchNorm(string op, Tensor x, Tensor? gamma, Tensor? beta, Tensor? runningMean, Tensor? runningVar)
    {
        Floating(op, x);
        ShapeMismatchException.Require(x.Rank is 2 or 4, op, "input must be [N, C] or [N, C, H, W]", x);
        int n = x.Shape[0], c = x.Shape[1], inner = x.Rank == 4 ? x.Shape.Product(2, 4) : 1;
        foreach (var p in (ReadOnlySpan<Tensor?>)[gamma, beta, runningMean, runningVar])
            if (p is not null) ShapeMismatchException.Require(p.Rank == 1 && p.Shape[0] == c, op, $"per-channel tensors must be [{c}]", p, x);
        return (n, c, inner);
    }

    /// <summary>
    /// Batch normalisation of x [N, C] or [N, C, H, W] over every axis but the channel axis, as PyTorch's
    /// BatchNorm1d/2d. Training: batch statistics (biased variance) normalise, and the running statistics,
    /// when given, move by <paramref name="momentum"/> towards the batch's (unbiased variance).
    /// Evaluation: the running statistics normalise. gamma and beta may be null (affine=False).
    /// </summary>
    public static Tensor BatchNorm(Tensor x, Tensor? gamma, Tensor? beta, Tensor? runningMean, Tensor? runningVar,
        bool training, double momentum = 0.1, double eps = 1e-5)
    {
        const string op = "batch_norm";
        var (n, c, inner) = CheckBatchNorm(op, x, gamma, beta, runningMean, runningVar);
        var y = Like(x);
        if (!training)
        {
            if (runningMean is null || runningVar is null) throw new InvalidOperationException($"{op}: evaluation mode needs running statistics");
            x.Backend.BatchNormInference(x, gamma, beta, runningMean, runningVar, eps, y);
            return Tape.NeedsGrad(x, gamma, beta) ? Tape.Record(new BatchNormInferenceNode(x, gamma, runningVar, eps, n, c, inner), y) : y;
        }
        if (n * inner < 2) throw new ShapeMismatchException($"{op}: training needs more than one value per channel (got input {x.Shape})");
        var mean = New(x, new Shape(c));
        var invStd = New(x, new Shape(c));
        x.Backend.BatchNormTraining(x, gamma, beta, runningMean, runningVar, momentum, eps, y, mean, invStd);
        if (!Tape.NeedsGrad(x, gamma, beta))
        {
            mean.Dispose();
            invStd.Dispose();
            return y;
        }
        return Tape.Record(new BatchNormNode(x, gamma, beta, mean, invStd), y);
    }

    private sealed class BatchNormNode(Tensor x, Tensor? gamma, Tensor? beta, Tensor mean, Tensor invStd) : Node
    {
        public override string Name => "batch_norm";

        public override void Backward(Tensor dy)
        {
            var dx = x.RequiresGrad ? Like(x) : null;
            var dgamma = gamma is { RequiresGrad: true } ? Like(gamma) : null;
            var dbeta = beta is { RequiresGrad: true } ? Like(beta) : null;
            // The kernel always computes dx; give it scratch when x needs no gradient.
            var dxTarget = dx ?? Like(x);
            dy.Backend.BatchNormBackward(x, dy, gamma, mean, invStd, dxTarget, dgamma, dbeta);
            if (dx is not null) Tape.Accumulate(x, dx); else dxTarget.Dispose();
            if (dgamma is not null) Tape.Accumulate(gamma!, dgamma);
            if (dbeta is not null) Tape.Accumulate(beta!, dbeta);
        }

        public override void ReleaseSaved()
        {
            mean.Dispose();
            invStd.Dispose();
        }
    }

    /// <summary>Evaluation mode is an affine map per channel: dx = dy * gamma / sqrt(running_var + eps).
    /// (Needed when a frozen backbone is fine-tuned in eval mode; the linear probe does not back-propagate here.)</summary>
    private sealed class BatchNormInferenceNode(Tensor x, Tensor? gamma, Tensor runningVar, double eps, int n, int c, int inner) : Node
    {
        public override string Name => "batch_norm_eval";

        public override void Backward(Tensor dy)
        {
            if (gamma is { RequiresGrad: true }) throw new NotSupportedException("batch_norm: gradients of gamma/beta in evaluation mode are not implemented");
            if (!x.RequiresGrad) return;
            var be = dy.Backend;
            var scale = New(x, new Shape(c));
            be.Unary(UnaryOp.AddScalar, runningVar, scale, eps);
            be.Unary(UnaryOp.Sqrt, scale, scale);
            be.Unary(UnaryOp.Reciprocal, scale, scale);
            if (gamma is not null) be.Binary(BinaryOp.Mul, scale, gamma, scale);
            var dx = Like(x);
            // dx[o,c,i] = dy[o,c,i] * scale[c]: broadcast scale over [n, c, inner], then multiply.
            var expanded = Like(x);
            be.Fill(expanded, 0);
            be.AddChannelVector(expanded, scale, n, c, inner, 1, expanded);
            be.Binary(BinaryOp.Mul, dy, expanded, dx);
            expanded.Dispose();
            scale.Dispose();
            Tape.Accumulate(x, dx);
        }
    }
}
