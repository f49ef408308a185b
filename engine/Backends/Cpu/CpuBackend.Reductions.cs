using System.Numerics;
using Vicreg.Engine.Backends.Cpu.Kernels;

namespace Vicreg.Engine.Backends.Cpu;

// Sums along axes and of squares. Every sum is accumulated in double (whatever the element type) in an
// order fixed by the shape alone (never by the thread count), so results repeat bit for bit anywhere.
public sealed unsafe partial class CpuBackend
{
    /// <summary>Columns summed together by one task of a column reduction (its double accumulators sit on the stack).</summary>
    private const int ColumnBlock = 256;

    /// <inheritdoc/>
    public void ChannelSum(Tensor x, int outer, int channels, int inner, double alpha, Tensor y)
    {
        KernelChecks.ChannelSum(x, outer, channels, inner, y);
        if (inner == 1)
        {
            // [outer, channels] rows: column sums, the same as a reduction over the middle axis of [1, outer, channels].
            if (x.DType == DType.Float32) ReduceSum(Ptr<float>(x), 1, outer, channels, alpha, Ptr<float>(y));
            else ReduceSum(Ptr<double>(x), 1, outer, channels, alpha, Ptr<double>(y));
            return;
        }
        if (x.DType == DType.Float32) ChannelSum(Ptr<float>(x), outer, channels, inner, alpha, Ptr<float>(y));
        else ChannelSum(Ptr<double>(x), outer, channels, inner, alpha, Ptr<double>(y));
    }

    private static void ChannelSum<T>(T* x, int outer, int channels, int inner, double alpha, T* y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var body = new ChannelSumBody<T> { X = x, Y = y, Outer = outer, Channels = channels, Inner = inner, Alpha = alpha };
        RunTasks(channels, (long)outer * channels * inner, ref body);
    }

    private struct ChannelSumBody<T> : IRangeBody where T : unmanaged, IFloatingPointIeee754<T>
    {
        public T* X, Y;
        public int Outer, Channels, Inner;
        public double Alpha;

        public void Run(int start, int end)
        {
            for (int c = start; c < end; c++)
            {
                double s = 0;
                for (int o = 0; o < Outer; o++) s += VectorMath.Sum(X + ((long)o * Channels + c) * Inner, Inner);
                Y[c] = VectorMath.FromDouble<T>(Alpha * s);
            }
        }
    }

    /// <inheritdoc/>
    public void ReduceSum(Tensor x, int outer, int mid, int inner, double alpha, Tensor y)
    {
        KernelChecks.ReduceSum(x, outer, mid, inner, y);
        if (x.DType == DType.Float32) ReduceSum(Ptr<float>(x), outer, mid, inner, alpha, Ptr<float>(y));
        else ReduceSum(Ptr<double>(x), outer, mid, inner, alpha, Ptr<double>(y));
    }

    private static void ReduceSum<T>(T* x, int outer, int mid, int inner, double alpha, T* y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int blocks = (inner + ColumnBlock - 1) / ColumnBlock;
        var body = new ReduceSumBody<T> { X = x, Y = y, Mid = mid, Inner = inner, Blocks = blocks, Alpha = alpha };
        int tasks = inner == 1 ? outer : outer * blocks;
        RunTasks(tasks, (long)outer * mid * inner, ref body);
    }

    private struct ReduceSumBody<T> : IRangeBody where T : unmanaged, IFloatingPointIeee754<T>
    {
        public T* X, Y;
        public int Mid, Inner, Blocks;
        public double Alpha;

        public void Run(int start, int end)
        {
            if (Inner == 1)
            {
                // Contiguous rows: one vectorized sum per output.
                for (int o = start; o < end; o++) Y[o] = VectorMath.FromDouble<T>(Alpha * VectorMath.Sum(X + (long)o * Mid, Mid));
                return;
            }
            double* acc = stackalloc double[ColumnBlock];
            for (int task = start; task < end; task++)
            {
                int o = task / Blocks, i0 = task % Blocks * ColumnBlock;
                int width = Math.Min(ColumnBlock, Inner - i0);
                new Span<double>(acc, width).Clear();
                ColumnMath.Sum(X + (long)o * Mid * Inner + i0, Mid, Inner, width, acc);
                T* y = Y + (long)o * Inner + i0;
                for (int j = 0; j < width; j++) y[j] = VectorMath.FromDouble<T>(Alpha * acc[j]);
            }
        }
    }

    /// <inheritdoc/>
    public void SumOfSquares(Tensor x, Tensor result)
    {
        KernelChecks.SumOfSquares(x, result);
        if (x.DType == DType.Float32) *Ptr<float>(result) = (float)SumOfSquares(Ptr<float>(x), Count(x));
        else *Ptr<double>(result) = SumOfSquares(Ptr<double>(x), Count(x));
    }

    /// <summary>Sum of squares in double: one partial per block (blocks fixed by n), added in block order.</summary>
    internal static double SumOfSquares<T>(T* x, int n) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int chunks = VectorMath.ReductionBlocks(n);
        if (chunks == 1) return VectorMath.SumOfSquares(x, n);
        double* partials = stackalloc double[chunks];
        var body = new SumOfSquaresBody<T> { X = x, N = n, Chunks = chunks, Partials = partials };
        CpuParallel.For(chunks, ref body);
        double s = 0;
        for (int c = 0; c < chunks; c++) s += partials[c];
        return s;
    }

    private struct SumOfSquaresBody<T> : IRangeBody where T : unmanaged, IFloatingPointIeee754<T>
    {
        public T* X;
        public int N, Chunks;
        public double* Partials;

        public void Run(int start, int end)
        {
            for (int c = start; c < end; c++)
            {
                // Block boundaries on whole vectors of 8, so no block starts mid-vector.
                int s = CpuParallel.ChunkStart(c, N / 8, Chunks) * 8;
                int e = c == Chunks - 1 ? N : CpuParallel.ChunkEnd(c, N / 8, Chunks) * 8;
                Partials[c] = VectorMath.SumOfSquares(X + s, e - s);
            }
        }
    }
}
