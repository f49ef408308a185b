using System.Numerics;
using System.Runtime.Intrinsics;

namespace Vicreg.Engine.Backends.Cpu.Kernels;

/// <summary>
/// Per-column sums and transforms over a strided row-major panel [rows, width] (row r at x + r * stride):
/// the (N, C) layout of batch norm and column reductions, where each channel is a column and the
/// contiguous direction runs across channels. Vectorized along the row; accumulators are doubles in a
/// caller's buffer (width at most a few hundred, so it lives on the stack). Rows are added in order,
/// so the result depends only on the data.
/// </summary>
internal static unsafe class ColumnMath
{
    /// <summary>acc[j] += sum over rows of x[r, j].</summary>
    public static void Sum<T>(T* x, int rows, long stride, int width, double* acc) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int w = Vector256<T>.Count;
        for (int r = 0; r < rows; r++)
        {
            T* row = x + r * stride;
            int j = 0;
            for (; j + w <= width; j += w)
            {
                var v = Vector256.Load(row + j);
                Vector256.Store(Vector256.Load(acc + j) + VectorMath.WidenLower(v), acc + j);
                if (VectorMath.IsFloat<T>()) Vector256.Store(Vector256.Load(acc + j + 4) + VectorMath.WidenUpper(v), acc + j + 4);
            }
            for (; j < width; j++) acc[j] += VectorMath.ToDouble(row[j]);
        }
    }

    /// <summary>acc[j] += sum over rows of (x[r, j] - mean[j])^2.</summary>
    public static void SumOfSquaredDeviations<T>(T* x, int rows, long stride, int width, double* mean, double* acc) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int w = Vector256<T>.Count;
        for (int r = 0; r < rows; r++)
        {
            T* row = x + r * stride;
            int j = 0;
            for (; j + w <= width; j += w)
            {
                var v = Vector256.Load(row + j);
                var d = VectorMath.WidenLower(v) - Vector256.Load(mean + j);
                Vector256.Store(VectorMath.Fma(d, d, Vector256.Load(acc + j)), acc + j);
                if (VectorMath.IsFloat<T>())
                {
                    var u = VectorMath.WidenUpper(v) - Vector256.Load(mean + j + 4);
                    Vector256.Store(VectorMath.Fma(u, u, Vector256.Load(acc + j + 4)), acc + j + 4);
                }
            }
            for (; j < width; j++)
            {
                double d = VectorMath.ToDouble(row[j]) - mean[j];
                acc[j] += d * d;
            }
        }
    }

    /// <summary>sumDy[j] += sum of dy[r, j]; sumDyXmu[j] += sum of dy[r, j] (x[r, j] - mean[j]).</summary>
    public static void SumDyAndDyXmu<T, TDy>(TDy dy, T* x, int rows, long stride, int width, double* mean, double* sumDy, double* sumDyXmu)
        where T : unmanaged, IFloatingPointIeee754<T> where TDy : struct, IOutputGradient<T, TDy>
    {
        int w = Vector256<T>.Count;
        for (int r = 0; r < rows; r++)
        {
            var dyRow = dy.At(r * stride);
            T* xRow = x + r * stride;
            int j = 0;
            for (; j + w <= width; j += w)
            {
                var d = dyRow.Load(j);
                var v = Vector256.Load(xRow + j);
                var dl = VectorMath.WidenLower(d);
                Vector256.Store(Vector256.Load(sumDy + j) + dl, sumDy + j);
                Vector256.Store(VectorMath.Fma(dl, VectorMath.WidenLower(v) - Vector256.Load(mean + j), Vector256.Load(sumDyXmu + j)), sumDyXmu + j);
                if (VectorMath.IsFloat<T>())
                {
                    var du = VectorMath.WidenUpper(d);
                    Vector256.Store(Vector256.Load(sumDy + j + 4) + du, sumDy + j + 4);
                    Vector256.Store(VectorMath.Fma(du, VectorMath.WidenUpper(v) - Vector256.Load(mean + j + 4), Vector256.Load(sumDyXmu + j + 4)), sumDyXmu + j + 4);
                }
            }
            for (; j < width; j++)
            {
                double d = VectorMath.ToDouble(dyRow[j]);
                sumDy[j] += d;
                sumDyXmu[j] += d * (VectorMath.ToDouble(xRow[j]) - mean[j]);
            }
        }
    }

    /// <summary>y[r, j] = map((x[r, j] - center[j]) * scale[j] + shift[j]), map the identity or a fused ReLU.</summary>
    public static void CenterScaleShift<T, TMap>(T* x, T* y, int rows, long stride, int width, T* center, T* scale, T* shift, TMap map)
        where T : unmanaged, IFloatingPointIeee754<T> where TMap : struct, IUnaryOperator<T>
    {
        int w = Vector256<T>.Count;
        for (int r = 0; r < rows; r++)
        {
            T* xRow = x + r * stride, yRow = y + r * stride;
            int j = 0;
            for (; j + w <= width; j += w)
                Vector256.Store(map.Apply(VectorMath.Fma(Vector256.Load(xRow + j) - Vector256.Load(center + j), Vector256.Load(scale + j), Vector256.Load(shift + j))), yRow + j);
            for (; j < width; j++) yRow[j] = map.Apply(T.FusedMultiplyAdd(xRow[j] - center[j], scale[j], shift[j]));
        }
    }

    /// <summary>dx[r, j] = a[j] dy[r, j] + b[j] (x[r, j] - center[j]) + c[j].</summary>
    public static void BatchNormGradient<T, TDy>(TDy dy, T* x, T* dx, int rows, long stride, int width, T* center, T* a, T* b, T* c)
        where T : unmanaged, IFloatingPointIeee754<T> where TDy : struct, IOutputGradient<T, TDy>
    {
        int w = Vector256<T>.Count;
        for (int r = 0; r < rows; r++)
        {
            var dyRow = dy.At(r * stride);
            T* xRow = x + r * stride, dxRow = dx + r * stride;
            int j = 0;
            for (; j + w <= width; j += w)
            {
                var xmu = Vector256.Load(xRow + j) - Vector256.Load(center + j);
                var rest = VectorMath.Fma(xmu, Vector256.Load(b + j), Vector256.Load(c + j));
                Vector256.Store(VectorMath.Fma(dyRow.Load(j), Vector256.Load(a + j), rest), dxRow + j);
            }
            for (; j < width; j++) dxRow[j] = T.FusedMultiplyAdd(dyRow[j], a[j], T.FusedMultiplyAdd(xRow[j] - center[j], b[j], c[j]));
        }
    }
}
