using Vicreg.Engine.Autograd;
using Vicreg.Engine.Distributed;

namespace Vicreg.Engine;

public static partial class Ops
{
    /// <summary>
    /// Training-mode batch normalization over the batches of every rank together, as PyTorch's
    /// SyncBatchNorm: the mean and the (biased) variance are those of all ranks' samples, from all-reduced
    /// per-channel sums (two passes: the sum, then the sum of squared deviations from the global mean, which
    /// keeps float32 free of the E[x²] − mean² cancellation). The running statistics move towards the global
    /// ones, so they stay identical on every rank. The backward all-reduces the two per-channel sums of the
    /// gradient (Σ dy and Σ dy·x̂) that the input gradient needs; γ and β get this rank's share, which the
    /// gradient averaging across ranks then combines. Built from backend kernels, so it runs on any backend.
    /// </summary>
    public static Tensor SyncBatchNorm(Tensor x, Tensor? gamma, Tensor? beta, Tensor? runningMean, Tensor? runningVar,
        ICommunicator communicator, double momentum = 0.1, double eps = 1e-5)
    {
        const string op = "sync_batch_norm";
        var (n, c, inner) = CheckBatchNorm(op, x, gamma, beta, runningMean, runningVar);
        var be = x.Backend;

        // Pass 1: the global count and per-channel sum, hence the mean.
        using var sums = New(x, new Shape(c + 1));
        using var channelSums = sums.NarrowView(0, c);
        using var countCell = sums.NarrowView(c, 1);
        be.ChannelSum(x, n, c, inner, 1, channelSums);
        be.Fill(countCell, (double)n * inner);
        communicator.AllReduceSum(sums);
        double count = countCell.Item();
        if (count < 2) throw new ShapeMismatchException($"{op}: training needs more than one value per channel (got {count} over all ranks)");
        using var mean = New(x, new Shape(c));
        be.Unary(UnaryOp.Scale, channelSums, mean, 1 / count);

        // Pass 2: the global biased variance around that mean.
        var xhat = Like(x);
        be.AddChannelVector(x, mean, n, c, inner, -1, xhat);
        using var variance = New(x, new Shape(c));
        using (var squares = Like(x))
        {
            be.Unary(UnaryOp.Square, xhat, squares);
            be.ChannelSum(squares, n, c, inner, 1, variance);
        }
        communicator.AllReduceSum(variance);
        be.Unary(UnaryOp.Scale, variance, variance, 1 / count);
        var invStd = New(x, new Shape(c));
        be.Unary(UnaryOp.AddScalar, variance, invStd, eps);
        be.Unary(UnaryOp.Sqrt, invStd, invStd);
        be.Unary(UnaryOp.Reciprocal, invStd, invStd);
        // With the global statistics known, normalizing is the evaluation-mode kernel's per-channel affine map.
        be.BatchNormInference(x, null, null, mean, variance, eps, xhat);

        if (runningMean is not null)
        {
            be.Unary(UnaryOp.Scale, runningMean, runningMean, 1 - momentum);
            be.Axpy(momentum, mean, runningMean);
        }
        if (runningVar is not null)
        {
            be.Unary(UnaryOp.Scale, runningVar, runningVar, 1 - momentum);
            be.Axpy(momentum * count / (count - 1), variance, runningVar);
        }

        var y = Like(x);
        be.BatchNormInference(x, gamma, beta, mean, variance, eps, y);
        if (!Tape.NeedsGrad(x, gamma, beta))
        {
            xhat.Dispose();
            invStd.Dispose();
            return y;
        }
        return Tape.Record(new SyncBatchNormNode(x, gamma, beta, xhat, invStd, communicator, count, n, c, inner), y);
    }

    /// <summary>y[o,c,i] = x[o,c,i] · v[c] (y may be x).</summary>
    private static void MultiplyByChannel(Tensor x, Tensor v, int n, int c, int inner, Tensor y)
    {
        using var expanded = Like(x);
        x.Backend.Fill(expanded, 0);
        x.Backend.AddChannelVector(expanded, v, n, c, inner, 1, expanded);
        x.Backend.Binary(BinaryOp.Mul, x, expanded, y);
    }

    private sealed class SyncBatchNormNode(Tensor x, Tensor? gamma, Tensor? beta, Tensor xhat, Tensor invStd,
        ICommunicator communicator, double count, int n, int c, int inner) : Node
    {
        public override string Name => "sync_batch_norm";

        public override void Backward(Tensor dy)
        {
            var be = dy.Backend;
            // Local Σ dy (β's gradient) and Σ dy·x̂ (γ's), then their sums over ranks for the input gradient.
            var dbeta = New(x, new Shape(c));
            var dgamma = New(x, new Shape(c));
            using (var product = Like(x))
            {
                be.Binary(BinaryOp.Mul, dy, xhat, product);
                be.ChannelSum(product, n, c, inner, 1, dgamma);
            }
            be.ChannelSum(dy, n, c, inner, 1, dbeta);
            // Every rank takes part in the all-reduce, whether or not its x needs a gradient.
            using var global = New(x, new Shape(2 * c));
            using var sumDy = global.NarrowView(0, c);
            using var sumDyXhat = global.NarrowView(c, c);
            be.Copy(dbeta, 0, global, 0, c);
            be.Copy(dgamma, 0, global, c, c);
            communicator.AllReduceSum(global);
            // dx = γ·invStd · (dy − Σdy/count − x̂ · Σ(dy·x̂)/count)
            be.Unary(UnaryOp.Scale, sumDyXhat, sumDyXhat, 1 / count);
            var dx = Like(x);
            MultiplyByChannel(xhat, sumDyXhat, n, c, inner, dx);
            be.Binary(BinaryOp.Sub, dy, dx, dx);
            be.AddChannelVector(dx, sumDy, n, c, inner, -1 / count, dx);
            using var scale = New(x, new Shape(c));
            if (gamma is not null) be.Binary(BinaryOp.Mul, gamma, invStd, scale);
            else be.Copy(invStd, 0, scale, 0, c);
            MultiplyByChannel(dx, scale, n, c, inner, dx);
            Tape.Accumulate(x, dx);
            if (gamma is { RequiresGrad: true }) Tape.Accumulate(gamma, dgamma); else dgamma.Dispose();
            if (beta is { RequiresGrad: true }) Tape.Accumulate(beta, dbeta); else dbeta.Dispose();
        }

        public override void ReleaseSaved()
        {
            xhat.Dispose();
            invStd.Dispose();
        }
    }
}
