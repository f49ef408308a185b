namespace Vicreg.Engine.Backends.Cuda;

/// <summary>Reductions (reductions.cu): deterministic two-stage sums, no atomics.</summary>
public sealed unsafe partial class CudaBackend
{
    public void ChannelSum(Tensor x, int outer, int channels, int inner, double alpha, Tensor y)
    {
        KernelChecks.ChannelSum(x, outer, channels, inner, y);
        nint xp = F32(x, nameof(ChannelSum)), yp = F32(y, nameof(ChannelSum));
        if (inner == 1 && outer > 0) ColumnSums(xp, outer, channels, alpha, yp);
        else LaunchChannelSumF32((uint)channels, x: xp, y: yp, outer: outer, channels: channels, inner: inner, alpha: (float)alpha);
    }

    /// <summary>Blocks the first pass of <see cref="ColumnSums"/> aims at: enough to fill a GPU's multiprocessors.</summary>
    private const int ColumnSumBlocks = 512;

    /// <summary>y[c] = alpha * sum over r of x[r, c] for x [rows, cols]: one block per channel would read a column
    /// with a stride of a row, so threads run along the columns instead, over chunks of rows, and a second pass adds
    /// each column's chunks in order. The chunking depends on the shape only, so results repeat run to run.</summary>
    private void ColumnSums(nint xp, int rows, int cols, double alpha, nint yp)
    {
        int columnBlocks = (cols + BlockSize - 1) / BlockSize;
        int chunks = Math.Clamp((ColumnSumBlocks + columnBlocks - 1) / columnBlocks, 1, rows);
        int rowsPerChunk = (rows + chunks - 1) / chunks;
        chunks = (rows + rowsPerChunk - 1) / rowsPerChunk;
        using var scratch = new Scratch(this, (long)chunks * cols * 4);
        LaunchColumnSumPartialF32((uint)(columnBlocks * chunks), x: xp, partials: scratch.Pointer, rows: rows, cols: cols, rows_per_chunk: rowsPerChunk);
        LaunchReduceSumF32(GridFor(cols), x: scratch.Pointer, y: yp, outer: 1, mid: chunks, inner: cols, alpha: (float)alpha);
    }

    public void ReduceSum(Tensor x, int outer, int mid, int inner, double alpha, Tensor y)
    {
        KernelChecks.ReduceSum(x, outer, mid, inner, y);
        nint xp = F32(x, nameof(ReduceSum)), yp = F32(y, nameof(ReduceSum));
        // One block per row when inner == 1: a long row would otherwise be summed by a single thread.
        // A whole-tensor sum (one row) in two passes over many blocks rather than by one block.
        if (inner == 1 && outer == 1) WholeSum(xp, mid, alpha, yp);
        else if (inner == 1) LaunchReduceRowsF32((uint)outer, x: xp, y: yp, mid: mid, alpha: (float)alpha);
        else LaunchReduceSumF32(GridFor((long)outer * inner), x: xp, y: yp, outer: outer, mid: mid, inner: inner, alpha: (float)alpha);
    }

    /// <summary>Blocks of the first stage of a two-stage reduction (at most <see cref="BlockSize"/>, so one
    /// block can finish it).</summary>
    private static int PartialCount(long n) => (int)Math.Clamp((n + BlockSize - 1) / BlockSize, 1, BlockSize);

    /// <summary>y[0] = alpha * sum of x[0..n): block partial sums, then one block adds them in order.</summary>
    private void WholeSum(nint xp, long n, double alpha, nint yp)
    {
        int partials = PartialCount(n);
        using var scratch = new Scratch(this, partials * 4L);
        LaunchSumPartialF32((uint)partials, x: xp, n: n, partials: scratch.Pointer);
        LaunchSumScaledF32(1, x: scratch.Pointer, n: partials, scale: (float)alpha, result: yp);
    }

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
