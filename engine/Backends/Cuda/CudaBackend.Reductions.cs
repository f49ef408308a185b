namespace Vicreg.Engine.Backends.Cuda;

/// <summary>Reductions (reductions.cu): deterministic two-stage sums, no atomics.</summary>
public sealed unsafe partial class CudaBackend
{
    public void ChannelSum(Tensor x, int outer, int channels, int inner, double alpha, Tensor y)
    {
        KernelChecks.ChannelSum(x, outer, channels, inner, y);
        nint xp = F32(x, nameof(ChannelSum)), yp = F32(y, nameof(ChannelSum));
        LaunchChannelSumF32((uint)channels, x: xp, y: yp, outer: outer, channels: channels, inner: inner, alpha: (float)alpha);
    }

    public void ReduceSum(Tensor x, int outer, int mid, int inner, double alpha, Tensor y)
    {
        KernelChecks.ReduceSum(x, outer, mid, inner, y);
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
        KernelChecks.SumOfSquares(x, result);
        nint xp = F32(x, nameof(SumOfSquares)), rp = F32(result, nameof(SumOfSquares));
        long n = x.Numel;
        int partials = PartialCount(n);
        using var scratch = new Scratch(this, partials * 4L);
        LaunchSumSquaresPartialF32((uint)partials, x: xp, n: n, partials: scratch.Pointer);
        LaunchSumScaledF32(1, x: scratch.Pointer, n: partials, scale: 1, result: rp);
    }
}
