using System.Numerics;
using System.Runtime.Intrinsics;
using Vicreg.Engine.Backends.Cpu.Kernels;

namespace Vicreg.Engine.Backends.Cpu;

// Max pooling, one (n, c) plane per task. Padding counts as -infinity; the first maximum in window order
// wins, and NaN wins over numbers (the last NaN), as PyTorch's CPU kernel does.
public sealed unsafe partial class CpuBackend
{
    /// <inheritdoc/>
    public void MaxPool2dForward(in Pool2dGeometry g, Tensor x, Tensor y, Tensor argmax)
    {
        KernelChecks.MaxPool2dForward(g, x, y, argmax);
        if (x.DType == DType.Float32) MaxPool2dForward<float>(g, x, y, argmax);
        else MaxPool2dForward<double>(g, x, y, argmax);
    }

    private static void MaxPool2dForward<T>(in Pool2dGeometry g, Tensor x, Tensor y, Tensor argmax) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var body = new MaxPoolForwardBody<T> { G = g, X = Ptr<T>(x), Y = Ptr<T>(y), Argmax = Ptr<int>(argmax) };
        RunPerPlane(ref body, g);
    }

    private static void RunPerPlane<TBody>(ref TBody body, in Pool2dGeometry g) where TBody : struct, IRangeBody
    {
        RunTasks(g.Batch * g.Channels, g.InputShape.Numel, ref body);
    }

    /// <summary>Widest input row the vectorized forward keeps on the stack (two rows of T).</summary>
    private const int MaxPoolStackWidth = 4096;

    private struct MaxPoolForwardBody<T> : IRangeBody where T : unmanaged, IFloatingPointIeee754<T>
    {
        public Pool2dGeometry G;
        public T* X, Y;
        public int* Argmax;

        public void Run(int start, int end)
        {
            if (G.InWidth <= MaxPoolStackWidth) RunColumns(start, end);
            else RunScalar(start, end);
        }

        /// <summary>The definition, window by window in row-major order, exactly as PyTorch's CPU kernel:
        /// take v when v &gt; max or v is NaN (so the first maximum wins, and the last NaN).</summary>
        private readonly void RunScalar(int start, int end)
        {
            int h = G.InHeight, w = G.InWidth, oh = G.OutHeight, ow = G.OutWidth;
            for (int p = start; p < end; p++)
            {
                T* x = X + (long)p * h * w;
                T* y = Y + (long)p * oh * ow;
                int* arg = Argmax + (long)p * oh * ow;
                for (int i = 0; i < oh; i++)
                {
                    int h0 = i * G.StrideHeight - G.PadHeight;
                    int hs = Math.Max(h0, 0), he = Math.Min(h0 + G.KernelHeight, h);
                    for (int j = 0; j < ow; j++)
                    {
                        int w0 = j * G.StrideWidth - G.PadWidth;
                        int ws = Math.Max(w0, 0), we = Math.Min(w0 + G.KernelWidth, w);
                        int best = hs * w + ws;
                        T max = T.NegativeInfinity;
                        for (int r = hs; r < he; r++)
                        {
                            T* row = x + r * w;
                            for (int col = ws; col < we; col++)
                            {
                                T v = row[col];
                                if (v > max || T.IsNaN(v))
                                {
                                    max = v;
                                    best = r * w + col;
                                }
                            }
                        }
                        y[i * ow + j] = max;
                        arg[i * ow + j] = best;
                    }
                }
            }
        }

        /// <summary>The same result in two steps: a vectorized maximum down the window's rows for every
        /// input column (remembering the winning row), then a short scan across each window's columns.
        /// The scan breaks ties as the row-major definition does: among equal maxima the smallest row
        /// (then column) wins; among NaNs the largest.</summary>
        private readonly void RunColumns(int start, int end)
        {
            int h = G.InHeight, w = G.InWidth, oh = G.OutHeight, ow = G.OutWidth, lanes = Vector256<T>.Count;
            T* colMax = stackalloc T[w];
            T* colRow = stackalloc T[w]; // row indices held as T (exact: rows are far below 2^24)
            for (int p = start; p < end; p++)
            {
                T* x = X + (long)p * h * w;
                T* y = Y + (long)p * oh * ow;
                int* arg = Argmax + (long)p * oh * ow;
                for (int i = 0; i < oh; i++)
                {
                    int h0 = i * G.StrideHeight - G.PadHeight;
                    int hs = Math.Max(h0, 0), he = Math.Min(h0 + G.KernelHeight, h);
                    new ReadOnlySpan<T>(x + hs * w, w).CopyTo(new Span<T>(colMax, w));
                    new Span<T>(colRow, w).Fill(T.CreateTruncating(hs));
                    for (int r = hs + 1; r < he; r++)
                    {
                        T* row = x + r * w;
                        T rowIndex = T.CreateTruncating(r);
                        var rv = Vector256.Create(rowIndex);
                        int c = 0;
                        for (; c + lanes <= w; c += lanes)
                        {
                            var v = Vector256.Load(row + c);
                            var m = Vector256.Load(colMax + c);
                            var take = Vector256.GreaterThan(v, m) | ~Vector256.Equals(v, v);
                            Vector256.Store(Vector256.ConditionalSelect(take, v, m), colMax + c);
                            Vector256.Store(Vector256.ConditionalSelect(take, rv, Vector256.Load(colRow + c)), colRow + c);
                        }
                        for (; c < w; c++)
                        {
                            T v = row[c];
                            if (v > colMax[c] || T.IsNaN(v)) { colMax[c] = v; colRow[c] = rowIndex; }
                        }
                    }
                    for (int j = 0; j < ow; j++)
                    {
                        int w0 = j * G.StrideWidth - G.PadWidth;
                        int ws = Math.Max(w0, 0), we = Math.Min(w0 + G.KernelWidth, w);
                        T max = colMax[ws];
                        int bestRow = int.CreateTruncating(colRow[ws]), bestCol = ws;
                        for (int c = ws + 1; c < we; c++)
                        {
                            T v = colMax[c];
                            int r = int.CreateTruncating(colRow[c]);
                            bool take = T.IsNaN(v)
                                ? !T.IsNaN(max) || r >= bestRow              // the last NaN in row-major order
                                : !T.IsNaN(max) && (v > max || (v == max && r < bestRow)); // the first maximum
                            if (take) { max = v; bestRow = r; bestCol = c; }
                        }
                        y[i * ow + j] = max;
                        arg[i * ow + j] = bestRow * w + bestCol;
                    }
                }
            }
        }
    }

    /// <inheritdoc/>
    public void MaxPool2dBackward(in Pool2dGeometry g, Tensor dy, Tensor argmax, Tensor dx)
    {
        KernelChecks.MaxPool2dBackward(g, dy, argmax, dx);
        if (dy.DType == DType.Float32) MaxPool2dBackward<float>(g, dy, argmax, dx);
        else MaxPool2dBackward<double>(g, dy, argmax, dx);
    }

    private static void MaxPool2dBackward<T>(in Pool2dGeometry g, Tensor dy, Tensor argmax, Tensor dx) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var body = new MaxPoolBackwardBody<T> { G = g, Dy = Ptr<T>(dy), Dx = Ptr<T>(dx), Argmax = Ptr<int>(argmax) };
        RunPerPlane(ref body, g);
    }

    private struct MaxPoolBackwardBody<T> : IRangeBody where T : unmanaged, IFloatingPointIeee754<T>
    {
        public Pool2dGeometry G;
        public T* Dy, Dx;
        public int* Argmax;

        public void Run(int start, int end)
        {
            int planeIn = G.InHeight * G.InWidth, planeOut = G.OutHeight * G.OutWidth;
            for (int p = start; p < end; p++)
            {
                T* dx = Dx + (long)p * planeIn;
                T* dy = Dy + (long)p * planeOut;
                int* arg = Argmax + (long)p * planeOut;
                new Span<T>(dx, planeIn).Clear();
                for (int k = 0; k < planeOut; k++)
                {
                    int index = arg[k];
                    // An index outside the plane would write into another plane or outside the buffer.
                    if ((uint)index >= (uint)planeIn) ThrowBadArgmax(index, planeIn);
                    dx[index] += dy[k];
                }
            }
        }
    }

    private static void ThrowBadArgmax(int index, int plane)
        => throw new ArgumentException($"MaxPool2dBackward: argmax {index} is outside the input plane of {plane} elements");
}
