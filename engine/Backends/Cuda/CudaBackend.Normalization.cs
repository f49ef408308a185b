namespace Vicreg.Engine.Backends.Cuda;

/// <summary>Batch norm and max pooling with our own kernels: exact PyTorch semantics on the [N, C, inner]
/// layout (unbiased running variance, argmax as flat plane index), no descriptor plumbing.</summary>
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
        float mo = (float)momentum, ep = (float)eps;
        long count = (long)outer * inner;
        int splits = Splits(count);
        float inverseCount = 1f / Math.Max(1L, count);
        using var partials = new Scratch(this, (long)channels * splits * 4);
        nint pp = partials.Pointer, none = 0;
        uint blocks = (uint)((long)channels * splits);
        void** sums = stackalloc void*[] { &xp, &outer, &channels, &inner, &splits, &none, &pp };
        Launch(CudaKernel.BnPartial, blocks, sums);
        void** means = stackalloc void*[] { &pp, &channels, &splits, &inverseCount, &mp };
        Launch(CudaKernel.BnMean, GridFor(channels), means);
        void** squares = stackalloc void*[] { &xp, &outer, &channels, &inner, &splits, &mp, &pp };
        Launch(CudaKernel.BnPartial, blocks, squares);
        void** finish = stackalloc void*[] { &pp, &channels, &splits, &count, &mp, &sp, &rm, &rv, &mo, &ep };
        Launch(CudaKernel.BnFinalize, GridFor(channels), finish);
        long n = x.Numel;
        void** normalize = stackalloc void*[] { &xp, &yp, &n, &channels, &inner, &mp, &sp, &gp, &bp };
        Launch(CudaKernel.BnNormalize, GridFor(n), normalize);
    }

    public void BatchNormInference(Tensor x, Tensor? gamma, Tensor? beta, Tensor runningMean, Tensor runningVar, double eps, Tensor y)
    {
        KernelChecks.BatchNormInference(x, gamma, beta, runningMean, runningVar, y);
        const string call = nameof(BatchNormInference);
        nint xp = F32(x, call), yp = F32(y, call), rm = F32(runningMean, call), rv = F32(runningVar, call);
        nint gp = F32OrNull(gamma, call), bp = F32OrNull(beta, call);
        var (_, channels, inner) = BatchNormLayout(x, runningMean);
        long n = x.Numel;
        float ep = (float)eps;
        void** args = stackalloc void*[] { &xp, &yp, &n, &channels, &inner, &rm, &rv, &gp, &bp, &ep };
        Launch(CudaKernel.BnInference, GridFor(n), args);
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
        void** reduce = stackalloc void*[] { &xp, &dyp, &outer, &channels, &inner, &splits, &mp, &sp, &pp };
        Launch(CudaKernel.BnBackwardPartial, (uint)((long)channels * splits), reduce);
        void** finish = stackalloc void*[] { &pp, &channels, &splits, &sump, &dgp, &dbp };
        Launch(CudaKernel.BnBackwardFinalize, GridFor(channels), finish);
        long n = x.Numel;
        float inverseCount = 1f / Math.Max(1L, (long)outer * inner);
        void** data = stackalloc void*[] { &xp, &dyp, &dxp, &n, &channels, &inner, &inverseCount, &mp, &sp, &gp, &sump };
        Launch(CudaKernel.BnBackwardData, GridFor(n), data);
    }

    public void MaxPool2dForward(in Pool2dGeometry g, Tensor x, Tensor y, Tensor argmax)
    {
        KernelChecks.MaxPool2dForward(g, x, y, argmax);
        const string call = nameof(MaxPool2dForward);
        nint xp = F32(x, call), yp = F32(y, call), ap = I32(argmax, call);
        int planes = g.Batch * g.Channels, h = g.InHeight, w = g.InWidth, oh = g.OutHeight, ow = g.OutWidth;
        int kh = g.KernelHeight, kw = g.KernelWidth, sh = g.StrideHeight, sw = g.StrideWidth, ph = g.PadHeight, pw = g.PadWidth;
        void** args = stackalloc void*[] { &xp, &yp, &ap, &planes, &h, &w, &oh, &ow, &kh, &kw, &sh, &sw, &ph, &pw };
        Launch(CudaKernel.MaxPoolForward, GridFor((long)planes * oh * ow), args);
    }

    public void MaxPool2dBackward(in Pool2dGeometry g, Tensor dy, Tensor argmax, Tensor dx)
    {
        KernelChecks.MaxPool2dBackward(g, dy, argmax, dx);
        const string call = nameof(MaxPool2dBackward);
        nint dyp = F32(dy, call), ap = I32(argmax, call), dxp = F32(dx, call);
        int planes = g.Batch * g.Channels, h = g.InHeight, w = g.InWidth, oh = g.OutHeight, ow = g.OutWidth;
        int kh = g.KernelHeight, kw = g.KernelWidth, sh = g.StrideHeight, sw = g.StrideWidth, ph = g.PadHeight, pw = g.PadWidth;
        void** args = stackalloc void*[] { &dyp, &ap, &dxp, &planes, &h, &w, &oh, &ow, &kh, &kw, &sh, &sw, &ph, &pw };
        Launch(CudaKernel.MaxPoolBackward, GridFor((long)planes * h * w), args);
    }
}
