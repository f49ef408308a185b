namespace Vicreg.Engine.Backends.Cuda;

public sealed unsafe partial class CudaBackend
{
    public void Unary(UnaryOp op, Tensor x, Tensor y, double alpha = 0)
    {
        nint xp = F32(x, nameof(Unary)), yp = F32(y, nameof(Unary));
        long n = y.Numel;
        LaunchUnaryF32(GridFor(n), x: xp, y: yp, n: n, op: op, alpha: (float)alpha);
    }

    public void Binary(BinaryOp op, Tensor a, Tensor b, Tensor y, double alpha = 0)
    {
        nint ap = F32(a, nameof(Binary)), bp = F32(b, nameof(Binary)), yp = F32(y, nameof(Binary));
        long n = y.Numel;
        LaunchBinaryF32(GridFor(n), a: ap, b: bp, y: yp, n: n, op: op, alpha: (float)alpha);
    }

    public void Axpy(double alpha, Tensor x, Tensor y)
    {
        nint xp = F32(x, nameof(Axpy)), yp = F32(y, nameof(Axpy));
        long n = y.Numel;
        LaunchAxpyF32(GridFor(n), x: xp, y: yp, n: n, alpha: (float)alpha);
    }

    public void AddChannelVector(Tensor x, Tensor v, int outer, int channels, int inner, double alpha, Tensor y)
    {
        nint xp = F32(x, nameof(AddChannelVector)), vp = F32(v, nameof(AddChannelVector)), yp = F32(y, nameof(AddChannelVector));
        long n = (long)outer * channels * inner;
        LaunchAddChannelVectorF32(GridFor(n), x: xp, v: vp, y: yp, n: n, channels: channels, inner: inner, alpha: (float)alpha);
    }

    public void Broadcast(Tensor x, int outer, int mid, int inner, double alpha, Tensor y)
    {
        nint xp = F32(x, nameof(Broadcast)), yp = F32(y, nameof(Broadcast));
        long n = (long)outer * mid * inner;
        LaunchBroadcastF32(GridFor(n), x: xp, y: yp, n: n, mid: mid, inner: inner, alpha: (float)alpha);
    }

    // ---- reductions ---------------------------------------------------------------------------------------
    public void ChannelSum(Tensor x, int outer, int channels, int inner, double alpha, Tensor y)
    {
        nint xp = F32(x, nameof(ChannelSum)), yp = F32(y, nameof(ChannelSum));
        LaunchChannelSumF32((uint)channels, x: xp, y: yp, outer: outer, channels: channels, inner: inner, alpha: (float)alpha);
    }

    public void ReduceSum(Tensor x, int outer, int mid, int inner, double alpha, Tensor y)
    {
        nint xp = F32(x, nameof(ReduceSum)), yp = F32(y, nameof(ReduceSum));
        // One block per row when inner == 1: a long row would otherwise be summed by a single thread.
        if (inner == 1) LaunchReduceRowsF32((uint)outer, x: xp, y: yp, mid: mid, alpha: (float)alpha);
        else LaunchReduceSumF32(GridFor((long)outer * inner), x: xp, y: yp, outer: outer, mid: mid, inner: inner, alpha: (float)alpha);
    }

    /// <summary>Blocks of the first stage of a two-stage reduction (at most <see cref="BlockSize"/>, so one
    /// block can finish it).</summary>
    private static int PartialCount(long n) => (int)Math.Clamp((n + BlockSize - 1) / BlockSize, 1, BlockSize);

    public void SumOfSquares(Tensor x, Tensor result)
    {
        nint xp = F32(x, nameof(SumOfSquares)), rp = F32(result, nameof(SumOfSquares));
        long n = x.Numel;
        int partials = PartialCount(n);
        using var scratch = new Scratch(this, partials * 4L);
        LaunchSumSquaresPartialF32((uint)partials, x: xp, n: n, partials: scratch.Pointer);
        LaunchSumScaledF32(1, x: scratch.Pointer, n: partials, scale: 1, result: rp);
    }

    // ---- losses -----------------------------------------------------------------------------------------------
    public void SoftmaxCrossEntropy(Tensor logits, Tensor labels, Tensor probabilities, Tensor meanLoss)
    {
        nint lp = F32(logits, nameof(SoftmaxCrossEntropy)), yp = I32(labels, nameof(SoftmaxCrossEntropy));
        nint pp = F32(probabilities, nameof(SoftmaxCrossEntropy)), mp = F32(meanLoss, nameof(SoftmaxCrossEntropy));
        int rows = logits.Shape[0];
        int classes = (int)(logits.Numel / Math.Max(rows, 1));
        using var scratch = new Scratch(this, rows * 4L);
        LaunchSoftmaxXentForwardF32((uint)rows, logits: lp, labels: yp, probabilities: pp, rowLoss: scratch.Pointer, classes: classes);
        LaunchSumScaledF32(1, x: scratch.Pointer, n: rows, scale: 1f / rows, result: mp);
    }

    public void SoftmaxCrossEntropyBackward(Tensor probabilities, Tensor labels, double scale, Tensor dlogits)
    {
        nint pp = F32(probabilities, nameof(SoftmaxCrossEntropyBackward)), yp = I32(labels, nameof(SoftmaxCrossEntropyBackward));
        nint dp = F32(dlogits, nameof(SoftmaxCrossEntropyBackward));
        long n = probabilities.Numel;
        int classes = (int)(n / Math.Max(probabilities.Shape[0], 1));
        LaunchSoftmaxXentBackwardF32(GridFor(n), probabilities: pp, labels: yp, dlogits: dp, n: n, classes: classes, scale: (float)scale);
    }

    // ---- optimiser updates -------------------------------------------------------------------------------
    public void SgdUpdate(Tensor weight, Tensor grad, Tensor momentumBuffer, double lr, double weightDecay, double momentum)
    {
        nint wp = F32(weight, nameof(SgdUpdate)), gp = F32(grad, nameof(SgdUpdate)), mp = F32(momentumBuffer, nameof(SgdUpdate));
        long n = weight.Numel;
        LaunchSgdUpdateF32(GridFor(n), w: wp, g: gp, m: mp, n: n, lr: (float)lr, weightDecay: (float)weightDecay, momentum: (float)momentum);
    }

    public void LarsUpdate(Tensor weight, Tensor grad, Tensor momentumBuffer, double lr, double weightDecay, double momentum, double eta, bool adapt)
    {
        nint wp = F32(weight, nameof(LarsUpdate)), gp = F32(grad, nameof(LarsUpdate)), mp = F32(momentumBuffer, nameof(LarsUpdate));
        long n = weight.Numel;
        int partials = adapt ? PartialCount(n) : 0;
        using var scratch = new Scratch(this, 2L * Math.Max(partials, 1) * 4);
        if (adapt) LaunchLarsNormsPartialF32((uint)partials, w: wp, g: gp, n: n, weightDecay: (float)weightDecay, partials: scratch.Pointer);
        LaunchLarsUpdateF32(GridFor(n), w: wp, g: gp, m: mp, n: n, partials: scratch.Pointer, partialCount: partials, lr: (float)lr,
            weightDecay: (float)weightDecay, momentum: (float)momentum, eta: (float)eta, adapt: adapt ? 1 : 0);
    }
}
