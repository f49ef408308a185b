namespace Vicreg.Engine.Backends.Cuda;

/// <summary>Batch norm with our own kernels (batchnorm.cu): exact PyTorch semantics on the [N, C, inner] layout (biased
/// variance for normalizing, unbiased for the running variance), no descriptor plumbing.</summary>
public sealed unsafe partial class CudaBackend
{
    private static (int Outer, int Channels, int Inner) BatchNormLayout(Tensor x, Tensor saveMean)
    {
        int channels = checked((int)saveMean.Numel);
        int outer = x.Shape[0];
        int inner = checked((int)(x.Numel / Math.Max(1L, (long)outer * channels)));
        return (outer, channels, inner);
    }

    /// <summary>Blocks per channel for the statistics: about 16K elements each, so that a wide layer with few
    /// channels (64 channels of 256x112x112) still fills the device; a function of the shape only, so the
    /// summation order (and the result) is the same on every run.</summary>
    private static int Splits(long count) => (int)Math.Clamp(count / (64 * BlockSize), 1, 128);

    public void BatchNormTraining(Tensor x, Tensor? gamma, Tensor? beta, Tensor? runningMean, Tensor? runningVar,
        double momentum, double eps, Tensor y, Tensor saveMean, Tensor saveInvStd)
    {
        KernelChecks.BatchNormTraining(x, gamma, beta, runningMean, runningVar, y, saveMean, saveInvStd);
        const string call = nameof(BatchNormTraining);
        nint xp = F32(x, call), yp = F32(y, call), mp = F32(saveMean, call), sp = F32(saveInvStd, call);
        nint gp = F32OrNull(gamma, call), bp = F32OrNull(beta, call);
        nint rm = F32OrNull(runningMean, call), rv = F32OrNull(runningVar, call);
        if ((rm == 0) != (rv == 0)) throw new ArgumentException($"{call}: give both running statistics or neither");
        var (outer, channels, inner) = BatchNormLayout(x, saveMean);
        long count = (long)outer * inner;
        int splits = Splits(count);
        float inverseCount = 1f / Math.Max(1L, count);
        using var partials = new Scratch(this, (long)channels * splits * 4);
        nint pp = partials.Pointer;
        uint blocks = (uint)((long)channels * splits);
        LaunchBnPartialF32(blocks, x: xp, outer: outer, channels: channels, inner: inner, splits: splits, mean: 0, partials: pp);
        LaunchBnMeanF32(GridFor(channels), partials: pp, channels: channels, splits: splits, inverseCount: inverseCount, mean: mp);
        LaunchBnPartialF32(blocks, x: xp, outer: outer, channels: channels, inner: inner, splits: splits, mean: mp, partials: pp);
        LaunchBnFinalizeF32(GridFor(channels), partials: pp, channels: channels, splits: splits, count: count, mean: mp, invstd: sp,
            runningMean: rm, runningVar: rv, momentum: (float)momentum, eps: (float)eps);
        long n = x.Numel;
        LaunchBnNormalizeF32(GridFor(n), x: xp, y: yp, n: n, channels: channels, inner: inner, mean: mp, invstd: sp, gamma: gp, beta: bp);
    }

    /// <summary>The training forward, then ReLU in place over its output (a composition: no kernel of its own yet).</summary>
    public void BatchNormReluTraining(Tensor x, Tensor? gamma, Tensor? beta, Tensor? runningMean, Tensor? runningVar,
        double momentum, double eps, Tensor y, Tensor saveMean, Tensor saveInvStd)
    {
        KernelChecks.BatchNormReluTraining(x, gamma, beta, runningMean, runningVar, y, saveMean, saveInvStd);
        BatchNormTraining(x, gamma, beta, runningMean, runningVar, momentum, eps, y, saveMean, saveInvStd);
        Unary(UnaryOp.Relu, y, y);
    }

    public void BatchNormInference(Tensor x, Tensor? gamma, Tensor? beta, Tensor runningMean, Tensor runningVar, double eps, Tensor y)
    {
        KernelChecks.BatchNormInference(x, gamma, beta, runningMean, runningVar, y);
        const string call = nameof(BatchNormInference);
        nint xp = F32(x, call), yp = F32(y, call), rm = F32(runningMean, call), rv = F32(runningVar, call);
        nint gp = F32OrNull(gamma, call), bp = F32OrNull(beta, call);
        var (_, channels, inner) = BatchNormLayout(x, runningMean);
        long n = x.Numel;
        LaunchBnInferenceF32(GridFor(n), x: xp, y: yp, n: n, channels: channels, inner: inner, runningMean: rm, runningVar: rv,
            gamma: gp, beta: bp, eps: (float)eps);
    }

    public void BatchNormBackward(Tensor x, Tensor dy, Tensor? gamma, Tensor saveMean, Tensor saveInvStd,
        Tensor dx, Tensor? dgamma, Tensor? dbeta)
    {
        KernelChecks.BatchNormBackward(x, dy, gamma, saveMean, saveInvStd, dx, dgamma, dbeta);
        const string call = nameof(BatchNormBackward);
        nint xp = F32(x, call), dyp = F32(dy, call), mp = F32(saveMean, call), sp = F32(saveInvStd, call), dxp = F32(dx, call);
        nint gp = F32OrNull(gamma, call), dgp = F32OrNull(dgamma, call), dbp = F32OrNull(dbeta, call);
        var (outer, channels, inner) = BatchNormLayout(x, saveMean);
        long count = (long)outer * inner;
        int splits = Splits(count);
        using var partials = new Scratch(this, 2L * channels * splits * 4);
        using var sums = new Scratch(this, 2L * channels * 4);
        nint pp = partials.Pointer, sump = sums.Pointer;
        LaunchBnBackwardPartialF32((uint)((long)channels * splits), x: xp, dy: dyp, outer: outer, channels: channels, inner: inner,
            splits: splits, mean: mp, invstd: sp, partials: pp);
        LaunchBnBackwardFinalizeF32(GridFor(channels), partials: pp, channels: channels, splits: splits, sums: sump, dgamma: dgp, dbeta: dbp);
        long n = x.Numel;
        LaunchBnBackwardDataF32(GridFor(n), x: xp, dy: dyp, dx: dxp, n: n, channels: channels, inner: inner,
            inverseCount: 1f / Math.Max(1L, (long)outer * inner), mean: mp, invstd: sp, gamma: gp, sums: sump);
    }

    /// <summary>ReLU's backward written into dx, then the batch-norm backward from it in place: bn_backward_data_f32
    /// reads dy[j] before it writes dx[j] in the same thread, and its pointers are not restrict.</summary>
    public void BatchNormReluBackward(Tensor x, Tensor y, Tensor dy, Tensor? gamma, Tensor saveMean, Tensor saveInvStd,
        Tensor dx, Tensor? dgamma, Tensor? dbeta)
    {
        KernelChecks.BatchNormReluBackward(x, y, dy, gamma, saveMean, saveInvStd, dx, dgamma, dbeta);
        Binary(BinaryOp.ReluBackward, y, dy, dx);
        BatchNormBackward(x, dx, gamma, saveMean, saveInvStd, dx, dgamma, dbeta);
    }
}
