namespace Vicreg.Engine.Backends.Cuda;

public sealed unsafe partial class CudaBackend
{
    public void Unary(UnaryOp op, Tensor x, Tensor y, double alpha = 0)
    {
        KernelChecks.Unary(x, y);
        nint xp = F32(x, nameof(Unary)), yp = F32(y, nameof(Unary));
        long n = y.Numel;
        int code = (int)op;
        float a = (float)alpha;
        void** args = stackalloc void*[] { &xp, &yp, &n, &code, &a };
        Launch(CudaKernel.Unary, GridFor(n), args);
    }

    public void Binary(BinaryOp op, Tensor a, Tensor b, Tensor y, double alpha = 0)
    {
        KernelChecks.Binary(a, b, y);
        nint ap = F32(a, nameof(Binary)), bp = F32(b, nameof(Binary)), yp = F32(y, nameof(Binary));
        long n = y.Numel;
        int code = (int)op;
        float al = (float)alpha;
        void** args = stackalloc void*[] { &ap, &bp, &yp, &n, &code, &al };
        Launch(CudaKernel.Binary, GridFor(n), args);
    }

    public void Axpy(double alpha, Tensor x, Tensor y)
    {
        KernelChecks.Axpy(x, y);
        nint xp = F32(x, nameof(Axpy)), yp = F32(y, nameof(Axpy));
        long n = y.Numel;
        float a = (float)alpha;
        void** args = stackalloc void*[] { &xp, &yp, &n, &a };
        Launch(CudaKernel.Axpy, GridFor(n), args);
    }

    public void AddChannelVector(Tensor x, Tensor v, int outer, int channels, int inner, double alpha, Tensor y)
    {
        KernelChecks.AddChannelVector(x, v, outer, channels, inner, y);
        nint xp = F32(x, nameof(AddChannelVector)), vp = F32(v, nameof(AddChannelVector)), yp = F32(y, nameof(AddChannelVector));
        long n = (long)outer * channels * inner;
        float a = (float)alpha;
        void** args = stackalloc void*[] { &xp, &vp, &yp, &n, &channels, &inner, &a };
        Launch(CudaKernel.AddChannelVector, GridFor(n), args);
    }

    public void Broadcast(Tensor x, int outer, int mid, int inner, double alpha, Tensor y)
    {
        KernelChecks.Broadcast(x, outer, mid, inner, y);
        nint xp = F32(x, nameof(Broadcast)), yp = F32(y, nameof(Broadcast));
        long n = (long)outer * mid * inner;
        float a = (float)alpha;
        void** args = stackalloc void*[] { &xp, &yp, &n, &mid, &inner, &a };
        Launch(CudaKernel.Broadcast, GridFor(n), args);
    }

    // ---- reductions ---------------------------------------------------------------------------------------
    public void ChannelSum(Tensor x, int outer, int channels, int inner, double alpha, Tensor y)
    {
        KernelChecks.ChannelSum(x, outer, channels, inner, y);
        nint xp = F32(x, nameof(ChannelSum)), yp = F32(y, nameof(ChannelSum));
        float a = (float)alpha;
        void** args = stackalloc void*[] { &xp, &yp, &outer, &channels, &inner, &a };
        Launch(CudaKernel.ChannelSum, (uint)channels, args);
    }

    public void ReduceSum(Tensor x, int outer, int mid, int inner, double alpha, Tensor y)
    {
        KernelChecks.ReduceSum(x, outer, mid, inner, y);
        nint xp = F32(x, nameof(ReduceSum)), yp = F32(y, nameof(ReduceSum));
        float a = (float)alpha;
        if (inner == 1)
        {
            // One block per row: a long row would otherwise be summed by a single thread.
            void** rowArgs = stackalloc void*[] { &xp, &yp, &mid, &a };
            Launch(CudaKernel.ReduceRows, (uint)outer, rowArgs);
            return;
        }
        void** args = stackalloc void*[] { &xp, &yp, &outer, &mid, &inner, &a };
        Launch(CudaKernel.ReduceSum, GridFor((long)outer * inner), args);
    }

    /// <summary>Blocks of the first stage of a two-stage reduction (at most <see cref="BlockSize"/>, so one
    /// block can finish it).</summary>
    private static int PartialCount(long n) => (int)Math.Clamp((n + BlockSize - 1) / BlockSize, 1, BlockSize);

    public void SumOfSquares(Tensor x, Tensor result)
    {
        KernelChecks.SumOfSquares(x, result);
        nint xp = F32(x, nameof(SumOfSquares)), rp = F32(result, nameof(SumOfSquares));
        long n = x.Numel;
        int partials = PartialCount(n);
        using var scratch = new Scratch(this, partials * 4L);
        nint pp = scratch.Pointer;
        void** args = stackalloc void*[] { &xp, &n, &pp };
        Launch(CudaKernel.SumSquaresPartial, (uint)partials, args);
        float one = 1;
        void** finish = stackalloc void*[] { &pp, &partials, &one, &rp };
        Launch(CudaKernel.SumScaled, 1, finish);
    }

    // ---- losses -----------------------------------------------------------------------------------------------
    public void SoftmaxCrossEntropy(Tensor logits, Tensor labels, Tensor probabilities, Tensor meanLoss)
    {
        KernelChecks.SoftmaxCrossEntropy(logits, labels, probabilities, meanLoss);
        nint lp = F32(logits, nameof(SoftmaxCrossEntropy)), yp = I32(labels, nameof(SoftmaxCrossEntropy));
        nint pp = F32(probabilities, nameof(SoftmaxCrossEntropy)), mp = F32(meanLoss, nameof(SoftmaxCrossEntropy));
        int rows = logits.Shape[0];
        int classes = (int)(logits.Numel / Math.Max(rows, 1));
        using var scratch = new Scratch(this, rows * 4L);
        nint rp = scratch.Pointer;
        void** args = stackalloc void*[] { &lp, &yp, &pp, &rp, &classes };
        Launch(CudaKernel.SoftmaxXentForward, (uint)rows, args);
        float inverse = 1f / rows;
        void** finish = stackalloc void*[] { &rp, &rows, &inverse, &mp };
        Launch(CudaKernel.SumScaled, 1, finish);
    }

    public void SoftmaxCrossEntropyBackward(Tensor probabilities, Tensor labels, double scale, Tensor dlogits)
    {
        KernelChecks.SoftmaxCrossEntropyBackward(probabilities, labels, dlogits);
        nint pp = F32(probabilities, nameof(SoftmaxCrossEntropyBackward)), yp = I32(labels, nameof(SoftmaxCrossEntropyBackward));
        nint dp = F32(dlogits, nameof(SoftmaxCrossEntropyBackward));
        long n = probabilities.Numel;
        int classes = (int)(n / Math.Max(probabilities.Shape[0], 1));
        float s = (float)scale;
        void** args = stackalloc void*[] { &pp, &yp, &dp, &n, &classes, &s };
        Launch(CudaKernel.SoftmaxXentBackward, GridFor(n), args);
    }

    // ---- optimiser updates -------------------------------------------------------------------------------
    public void SgdUpdate(Tensor weight, Tensor grad, Tensor momentumBuffer, double lr, double weightDecay, double momentum)
    {
        KernelChecks.SgdUpdate(weight, grad, momentumBuffer);
        nint wp = F32(weight, nameof(SgdUpdate)), gp = F32(grad, nameof(SgdUpdate)), mp = F32(momentumBuffer, nameof(SgdUpdate));
        long n = weight.Numel;
        float l = (float)lr, wd = (float)weightDecay, mo = (float)momentum;
        void** args = stackalloc void*[] { &wp, &gp, &mp, &n, &l, &wd, &mo };
        Launch(CudaKernel.SgdUpdate, GridFor(n), args);
    }

    public void LarsUpdate(Tensor weight, Tensor grad, Tensor momentumBuffer, double lr, double weightDecay, double momentum, double eta, bool adapt)
    {
        KernelChecks.LarsUpdate(weight, grad, momentumBuffer);
        nint wp = F32(weight, nameof(LarsUpdate)), gp = F32(grad, nameof(LarsUpdate)), mp = F32(momentumBuffer, nameof(LarsUpdate));
        long n = weight.Numel;
        float l = (float)lr, wd = (float)weightDecay, mo = (float)momentum, e = (float)eta;
        int partials = adapt ? PartialCount(n) : 0;
        int adaptFlag = adapt ? 1 : 0;
        using var scratch = new Scratch(this, 2L * Math.Max(partials, 1) * 4);
        nint pp = scratch.Pointer;
        if (adapt)
        {
            void** norms = stackalloc void*[] { &wp, &gp, &n, &wd, &pp };
            Launch(CudaKernel.LarsNormsPartial, (uint)partials, norms);
        }
        void** args = stackalloc void*[] { &wp, &gp, &mp, &n, &pp, &partials, &l, &wd, &mo, &e, &adaptFlag };
        Launch(CudaKernel.LarsUpdate, GridFor(n), args);
    }
}
