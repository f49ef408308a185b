namespace Vicreg.Engine.Backends.Cuda;

/// <summary>Losses (losses.cu): softmax cross-entropy; the mean over rows is reductions.cu's second stage.</summary>
public sealed unsafe partial class CudaBackend
{
    public void SoftmaxCrossEntropy(Tensor logits, Tensor labels, Tensor probabilities, Tensor meanLoss)
    {
        KernelChecks.SoftmaxCrossEntropy(logits, labels, probabilities, meanLoss);
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
        KernelChecks.SoftmaxCrossEntropyBackward(probabilities, labels, dlogits);
        nint pp = F32(probabilities, nameof(SoftmaxCrossEntropyBackward)), yp = I32(labels, nameof(SoftmaxCrossEntropyBackward));
        nint dp = F32(dlogits, nameof(SoftmaxCrossEntropyBackward));
        long n = probabilities.Numel;
        int classes = (int)(n / Math.Max(probabilities.Shape[0], 1));
        LaunchSoftmaxXentBackwardF32(GridFor(n), probabilities: pp, labels: yp, dlogits: dp, n: n, classes: classes, scale: (float)scale);
    }
}
