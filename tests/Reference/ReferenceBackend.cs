using System.Runtime.InteropServices;
using Vicreg.Engine;

namespace Vicreg.Tests.Reference;

/// <summary>
/// The test oracle: every <see cref="IBackend"/> kernel as its definition, in plain loops on one thread, each
/// value read into double, every sum accumulated in double in index order, one rounding to the tensor's type on
/// the way out. No SIMD, no blocking, no threads, no cache: slow and obviously right, so a fast backend that
/// disagrees with it is wrong. Host memory, float32, float64 and int32. Never part of the product.
/// </summary>
public sealed unsafe class ReferenceBackend : IBackend
{
    public static ReferenceBackend Instance { get; } = new();

    private long _bytesInUse, _allocations;

    private ReferenceBackend() { }

    public string Name => "reference";
    public bool IsHostMemory => true;
    public bool Supports(DType dtype) => true;

    // ---- memory ---------------------------------------------------------------------------------------------
    public nint Allocate(long bytes)
    {
        Interlocked.Add(ref _bytesInUse, bytes);
        Interlocked.Increment(ref _allocations);
        return (nint)NativeMemory.AlignedAlloc((nuint)bytes, 64);
    }

    public void Free(nint pointer, long bytes)
    {
        Interlocked.Add(ref _bytesInUse, -bytes);
        NativeMemory.AlignedFree((void*)pointer);
    }

    public AllocatorStatistics MemoryStatistics => new(_bytesInUse, 0, _allocations, 0);

    public void CopyFromHost(ReadOnlySpan<byte> source, Tensor destination)
    {
        KernelChecks.CopyFromHost(source.Length, destination);
        source.CopyTo(new Span<byte>((void*)destination.Data, source.Length));
    }

    public void CopyToHost(Tensor source, Span<byte> destination)
    {
        KernelChecks.CopyToHost(source, destination.Length);
        new ReadOnlySpan<byte>((void*)source.Data, destination.Length).CopyTo(destination);
    }

    public void Copy(Tensor source, long sourceOffset, Tensor destination, long destinationOffset, long count)
    {
        KernelChecks.Copy(source, sourceOffset, destination, destinationOffset, count);
        var values = new double[count];
        for (long i = 0; i < count; i++) values[i] = Get(source, sourceOffset + i);
        for (long i = 0; i < count; i++) Set(destination, destinationOffset + i, values[i]);
    }

    public void Fill(Tensor tensor, double value)
    {
        for (long i = 0; i < tensor.Numel; i++) Set(tensor, i, value);
    }

    public void FillDiagonal(Tensor matrix, double value)
    {
        KernelChecks.FillDiagonal(matrix);
        int d = matrix.Shape[0];
        for (long i = 0; i < d; i++) Set(matrix, i * (d + 1), value);
    }

    public void Synchronize() { }

    public void Dispose() { }

    // ---- dense linear algebra -------------------------------------------------------------------------------
    public void Gemm(bool transposeA, bool transposeB, double alpha, Tensor a, Tensor b, double beta, Tensor c)
    {
        var (m, n, k) = KernelChecks.Gemm(transposeA, transposeB, a, b, c);
        int lda = a.Shape[1], ldb = b.Shape[1];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 0;
                for (int p = 0; p < k; p++)
                    s += Get(a, transposeA ? (long)p * lda + i : (long)i * lda + p) * Get(b, transposeB ? (long)j * ldb + p : (long)p * ldb + j);
                long at = (long)i * n + j;
                // beta == 0 ignores c (it may hold garbage), as BLAS.
                Set(c, at, alpha * s + (beta == 0 ? 0 : beta * Get(c, at)));
            }
    }

    // ---- convolution: y[n,o,i,j] = sum over c,r,s of x[n,c,i*sh-ph+r, j*sw-pw+s] w[o,c,r,s] ----------------------
    public void Conv2dForward(in Conv2dGeometry g, Tensor x, Tensor weight, Tensor y)
    {
        KernelChecks.Convolution(nameof(Conv2dForward), g, x, weight, y);
        var sums = new double[y.Numel];
        ForEachTap(g, (xi, wi, yi) => sums[yi] += Get(x, xi) * Get(weight, wi));
        Store(y, sums);
    }

    public void Conv2dBackwardData(in Conv2dGeometry g, Tensor dy, Tensor weight, Tensor dx)
    {
        KernelChecks.Convolution(nameof(Conv2dBackwardData), g, dx, weight, dy);
        var sums = new double[dx.Numel];
        ForEachTap(g, (xi, wi, yi) => sums[xi] += Get(dy, yi) * Get(weight, wi));
        Store(dx, sums);
    }

    public void Conv2dBackwardFilter(in Conv2dGeometry g, Tensor x, Tensor dy, Tensor dweight)
    {
        KernelChecks.Convolution(nameof(Conv2dBackwardFilter), g, x, dweight, dy);
        var sums = new double[dweight.Numel];
        ForEachTap(g, (xi, wi, yi) => sums[wi] += Get(x, xi) * Get(dy, yi));
        Store(dweight, sums);
    }

    /// <summary>Calls tap(x index, weight index, y index) for every product of the convolution that falls inside the input.</summary>
    private static void ForEachTap(in Conv2dGeometry g, Action<long, long, long> tap)
    {
        for (int n = 0; n < g.Batch; n++)
            for (int o = 0; o < g.OutChannels; o++)
                for (int i = 0; i < g.OutHeight; i++)
                    for (int j = 0; j < g.OutWidth; j++)
                    {
                        long yi = (((long)n * g.OutChannels + o) * g.OutHeight + i) * g.OutWidth + j;
                        for (int c = 0; c < g.InChannels; c++)
                            for (int r = 0; r < g.KernelHeight; r++)
                            {
                                int h = i * g.StrideHeight - g.PadHeight + r;
                                if (h < 0 || h >= g.InHeight) continue;
                                for (int s = 0; s < g.KernelWidth; s++)
                                {
                                    int w = j * g.StrideWidth - g.PadWidth + s;
                                    if (w < 0 || w >= g.InWidth) continue;
                                    long xi = (((long)n * g.InChannels + c) * g.InHeight + h) * g.InWidth + w;
                                    long wi = (((long)o * g.InChannels + c) * g.KernelHeight + r) * g.KernelWidth + s;
                                    tap(xi, wi, yi);
                                }
                            }
                    }
    }

    // ---- batch normalization over [N, C, inner] ---------------------------------------------------------------
    public void BatchNormTraining(Tensor x, Tensor? gamma, Tensor? beta, Tensor? runningMean, Tensor? runningVar,
        double momentum, double eps, Tensor y, Tensor saveMean, Tensor saveInvStd)
    {
        var (n, channels, inner) = KernelChecks.BatchNormTraining(x, gamma, beta, runningMean, runningVar, y, saveMean, saveInvStd);
        long m = (long)n * inner;
        for (int c = 0; c < channels; c++)
        {
            double sum = 0;
            foreach (long i in Channel(n, channels, inner, c)) sum += Get(x, i);
            double mean = sum / m;
            double squares = 0;
            foreach (long i in Channel(n, channels, inner, c)) squares += (Get(x, i) - mean) * (Get(x, i) - mean);
            double invStd = 1 / Math.Sqrt(squares / m + eps);
            Set(saveMean, c, mean);
            Set(saveInvStd, c, invStd);
            if (runningMean is not null && runningVar is not null)
            {
                Set(runningMean, c, (1 - momentum) * Get(runningMean, c) + momentum * mean);
                Set(runningVar, c, (1 - momentum) * Get(runningVar, c) + momentum * (m > 1 ? squares / (m - 1) : squares / m));
            }
            Normalize(x, y, c, n, channels, inner, mean, invStd, gamma, beta);
        }
    }

    /// <summary>The training forward, then y = max(0, y).</summary>
    public void BatchNormReluTraining(Tensor x, Tensor? gamma, Tensor? beta, Tensor? runningMean, Tensor? runningVar,
        double momentum, double eps, Tensor y, Tensor saveMean, Tensor saveInvStd)
    {
        KernelChecks.BatchNormReluTraining(x, gamma, beta, runningMean, runningVar, y, saveMean, saveInvStd);
        BatchNormTraining(x, gamma, beta, runningMean, runningVar, momentum, eps, y, saveMean, saveInvStd);
        for (long i = 0; i < y.Numel; i++) Set(y, i, Math.Max(Get(y, i), 0));
    }

    public void BatchNormInference(Tensor x, Tensor? gamma, Tensor? beta, Tensor runningMean, Tensor runningVar, double eps, Tensor y)
    {
        var (n, channels, inner) = KernelChecks.BatchNormInference(x, gamma, beta, runningMean, runningVar, y);
        for (int c = 0; c < channels; c++)
            Normalize(x, y, c, n, channels, inner, Get(runningMean, c), 1 / Math.Sqrt(Get(runningVar, c) + eps), gamma, beta);
    }

    private static void Normalize(Tensor x, Tensor y, int c, int n, int channels, int inner, double mean, double invStd, Tensor? gamma, Tensor? beta)
    {
        double g = gamma is null ? 1 : Get(gamma, c), b = beta is null ? 0 : Get(beta, c);
        foreach (long i in Channel(n, channels, inner, c)) Set(y, i, (Get(x, i) - mean) * invStd * g + b);
    }

    /// <summary>dx = g invstd / M (M dy - sum dy - xhat sum(dy xhat)), xhat = (x - mean) invstd; dbeta = sum dy, dgamma = sum dy xhat.</summary>
    public void BatchNormBackward(Tensor x, Tensor dy, Tensor? gamma, Tensor saveMean, Tensor saveInvStd,
        Tensor dx, Tensor? dgamma, Tensor? dbeta)
    {
        var layout = KernelChecks.BatchNormBackward(x, dy, gamma, saveMean, saveInvStd, dx, dgamma, dbeta);
        BatchNormBackward(layout, x, i => Get(dy, i), gamma, saveMean, saveInvStd, dx, dgamma, dbeta);
    }

    /// <summary>The batch-norm backward of the upstream gradient dy where y &gt; 0 and 0 elsewhere (ReLU's derivative).</summary>
    public void BatchNormReluBackward(Tensor x, Tensor y, Tensor dy, Tensor? gamma, Tensor saveMean, Tensor saveInvStd,
        Tensor dx, Tensor? dgamma, Tensor? dbeta)
    {
        var layout = KernelChecks.BatchNormReluBackward(x, y, dy, gamma, saveMean, saveInvStd, dx, dgamma, dbeta);
        BatchNormBackward(layout, x, i => Get(y, i) > 0 ? Get(dy, i) : 0, gamma, saveMean, saveInvStd, dx, dgamma, dbeta);
    }

    private static void BatchNormBackward((int N, int C, int Inner) layout, Tensor x, Func<long, double> upstream, Tensor? gamma,
        Tensor saveMean, Tensor saveInvStd, Tensor dx, Tensor? dgamma, Tensor? dbeta)
    {
        var (n, channels, inner) = layout;
        long m = (long)n * inner;
        for (int c = 0; c < channels; c++)
        {
            double mean = Get(saveMean, c), invStd = Get(saveInvStd, c), g = gamma is null ? 1 : Get(gamma, c);
            double sumDy = 0, sumDyXhat = 0;
            foreach (long i in Channel(n, channels, inner, c))
            {
                sumDy += upstream(i);
                sumDyXhat += upstream(i) * (Get(x, i) - mean) * invStd;
            }
            if (dbeta is not null) Set(dbeta, c, sumDy);
            if (dgamma is not null) Set(dgamma, c, sumDyXhat);
            foreach (long i in Channel(n, channels, inner, c))
            {
                double xhat = (Get(x, i) - mean) * invStd;
                Set(dx, i, g * invStd / m * (m * upstream(i) - sumDy - xhat * sumDyXhat));
            }
        }
    }

    /// <summary>The flat indices of channel c in [N, C, inner], in memory order.</summary>
    private static IEnumerable<long> Channel(int n, int channels, int inner, int c)
    {
        for (int o = 0; o < n; o++)
            for (int i = 0; i < inner; i++)
                yield return ((long)o * channels + c) * inner + i;
    }

    // ---- pooling: windows in row-major order; the first maximum wins, a NaN wins over numbers (the last NaN) -------
    public void MaxPool2dForward(in Pool2dGeometry g, Tensor x, Tensor y, Tensor argmax)
    {
        KernelChecks.MaxPool2dForward(g, x, y, argmax);
        int plane = g.InHeight * g.InWidth, outPlane = g.OutHeight * g.OutWidth;
        for (int p = 0; p < g.Batch * g.Channels; p++)
            for (int i = 0; i < g.OutHeight; i++)
                for (int j = 0; j < g.OutWidth; j++)
                {
                    double max = double.NegativeInfinity;
                    int best = -1;
                    for (int r = i * g.StrideHeight - g.PadHeight; r < i * g.StrideHeight - g.PadHeight + g.KernelHeight; r++)
                        for (int s = j * g.StrideWidth - g.PadWidth; s < j * g.StrideWidth - g.PadWidth + g.KernelWidth; s++)
                        {
                            if (r < 0 || r >= g.InHeight || s < 0 || s >= g.InWidth) continue;
                            double v = Get(x, (long)p * plane + r * g.InWidth + s);
                            if (best < 0 || v > max || double.IsNaN(v)) { max = v; best = r * g.InWidth + s; }
                        }
                    long at = (long)p * outPlane + i * g.OutWidth + j;
                    Set(y, at, max);
                    Set(argmax, at, best);
                }
    }

    public void MaxPool2dBackward(in Pool2dGeometry g, Tensor dy, Tensor argmax, Tensor dx)
    {
        KernelChecks.MaxPool2dBackward(g, dy, argmax, dx);
        int plane = g.InHeight * g.InWidth, outPlane = g.OutHeight * g.OutWidth;
        var sums = new double[dx.Numel];
        for (int p = 0; p < g.Batch * g.Channels; p++)
            for (int k = 0; k < outPlane; k++)
            {
                int index = (int)Get(argmax, (long)p * outPlane + k);
                if ((uint)index >= (uint)plane) throw new ArgumentException($"MaxPool2dBackward: argmax {index} is outside the input plane of {plane} elements");
                sums[(long)p * plane + index] += Get(dy, (long)p * outPlane + k);
            }
        Store(dx, sums);
    }

    // ---- elementwise, broadcasting and reductions -------------------------------------------------------------
    public void Unary(UnaryOp op, Tensor x, Tensor y, double alpha = 0)
    {
        KernelChecks.Unary(x, y);
        for (long i = 0; i < x.Numel; i++)
        {
            double v = Get(x, i);
            Set(y, i, op switch
            {
                UnaryOp.Copy => v,
                UnaryOp.Scale => alpha * v,
                UnaryOp.AddScalar => v + alpha,
                UnaryOp.Square => v * v,
                UnaryOp.Sqrt => Math.Sqrt(v),
                UnaryOp.Relu => Math.Max(v, 0),
                UnaryOp.Hinge => Math.Max(alpha - v, 0),
                UnaryOp.Exp => Math.Exp(v),
                UnaryOp.Log => Math.Log(v),
                UnaryOp.Reciprocal => 1 / v,
                UnaryOp.Tanh => Math.Tanh(v),
                UnaryOp.Pow => Math.Pow(v, alpha),
                UnaryOp.Gelu => 0.5 * v * (1 + Math.Tanh(GeluScale * (v + 0.044715 * v * v * v))),
                _ => throw new ArgumentOutOfRangeException(nameof(op), op, "unknown unary op"),
            });
        }
    }

    public void Binary(BinaryOp op, Tensor a, Tensor b, Tensor y, double alpha = 0)
    {
        KernelChecks.Binary(a, b, y);
        for (long i = 0; i < a.Numel; i++)
        {
            double u = Get(a, i), v = Get(b, i);
            Set(y, i, op switch
            {
                BinaryOp.Add => u + v,
                BinaryOp.Sub => u - v,
                BinaryOp.Mul => u * v,
                BinaryOp.Div => u / v,
                BinaryOp.ReluBackward => u > 0 ? v : 0,
                BinaryOp.HingeBackward => u < alpha ? -v : 0,
                BinaryOp.Maximum => double.IsNaN(u) || u > v ? u : v,
                BinaryOp.Minimum => double.IsNaN(u) || u < v ? u : v,
                BinaryOp.MaxGradientShare => u < v ? 0 : u == v ? 0.5 : 1,
                BinaryOp.SelectNonZero => u != 0 ? v : -0.0,
                BinaryOp.SelectZero => u == 0 ? v : -0.0,
                BinaryOp.TanhBackward => v * (1 - u * u),
                BinaryOp.GeluBackward => v * GeluDerivative(u),
                _ => throw new ArgumentOutOfRangeException(nameof(op), op, "unknown binary op"),
            });
        }
    }

    /// <summary>sqrt(2 / pi), the tanh-form GELU's inner scale.</summary>
    private static readonly double GeluScale = Math.Sqrt(2 / Math.PI);

    /// <summary>d/dx of 0.5 x (1 + tanh(s (x + 0.044715 x^3))), written out from the formula, not from the kernels.</summary>
    private static double GeluDerivative(double x)
    {
        double t = Math.Tanh(GeluScale * (x + 0.044715 * x * x * x));
        return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * GeluScale * (1 + 3 * 0.044715 * x * x);
    }

    public void Axpy(double alpha, Tensor x, Tensor y)
    {
        KernelChecks.Axpy(x, y);
        for (long i = 0; i < x.Numel; i++) Set(y, i, Get(y, i) + alpha * Get(x, i));
    }

    public void AddChannelVector(Tensor x, Tensor v, int outer, int channels, int inner, double alpha, Tensor y)
    {
        KernelChecks.AddChannelVector(x, v, outer, channels, inner, y);
        for (long i = 0; i < x.Numel; i++) Set(y, i, Get(x, i) + alpha * Get(v, i / inner % channels));
    }

    public void ChannelSum(Tensor x, int outer, int channels, int inner, double alpha, Tensor y)
    {
        KernelChecks.ChannelSum(x, outer, channels, inner, y);
        for (int c = 0; c < channels; c++)
        {
            double s = 0;
            foreach (long i in Channel(outer, channels, inner, c)) s += Get(x, i);
            Set(y, c, alpha * s);
        }
    }

    public void ReduceSum(Tensor x, int outer, int mid, int inner, double alpha, Tensor y)
    {
        KernelChecks.ReduceSum(x, outer, mid, inner, y);
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
            {
                double s = 0;
                for (int m = 0; m < mid; m++) s += Get(x, ((long)o * mid + m) * inner + i);
                Set(y, (long)o * inner + i, alpha * s);
            }
    }

    public void Broadcast(Tensor x, int outer, int mid, int inner, double alpha, Tensor y)
    {
        KernelChecks.Broadcast(x, outer, mid, inner, y);
        for (int o = 0; o < outer; o++)
            for (int m = 0; m < mid; m++)
                for (int i = 0; i < inner; i++)
                    Set(y, ((long)o * mid + m) * inner + i, alpha * Get(x, (long)o * inner + i));
    }

    public void SumOfSquares(Tensor x, Tensor result)
    {
        KernelChecks.SumOfSquares(x, result);
        double s = 0;
        for (long i = 0; i < x.Numel; i++) s += Get(x, i) * Get(x, i);
        Set(result, 0, s);
    }

    // ---- losses -------------------------------------------------------------------------------------------------
    public void SoftmaxCrossEntropy(Tensor logits, Tensor labels, Tensor probabilities, Tensor meanLoss)
    {
        var (rows, classes) = KernelChecks.SoftmaxCrossEntropy(logits, labels, probabilities, meanLoss);
        double total = 0;
        for (int r = 0; r < rows; r++)
        {
            int label = Label(labels, r, classes);
            double max = double.NegativeInfinity;
            for (int k = 0; k < classes; k++) max = Math.Max(max, Get(logits, (long)r * classes + k));
            double sum = 0;
            for (int k = 0; k < classes; k++) sum += Math.Exp(Get(logits, (long)r * classes + k) - max);
            total += Math.Log(sum) + max - Get(logits, (long)r * classes + label);
            for (int k = 0; k < classes; k++) Set(probabilities, (long)r * classes + k, Math.Exp(Get(logits, (long)r * classes + k) - max) / sum);
        }
        Set(meanLoss, 0, rows == 0 ? double.NaN : total / rows);
    }

    public void SoftmaxCrossEntropyBackward(Tensor probabilities, Tensor labels, double scale, Tensor dlogits)
    {
        var (rows, classes) = KernelChecks.SoftmaxCrossEntropyBackward(probabilities, labels, dlogits);
        for (int r = 0; r < rows; r++)
        {
            int label = Label(labels, r, classes);
            for (int k = 0; k < classes; k++)
            {
                long at = (long)r * classes + k;
                Set(dlogits, at, scale * (Get(probabilities, at) - (k == label ? 1 : 0)));
            }
        }
    }

    private static int Label(Tensor labels, int row, int classes)
    {
        int label = (int)Get(labels, row);
        if ((uint)label >= (uint)classes) throw new ArgumentException($"SoftmaxCrossEntropy: label {label} in row {row} is outside [0, {classes})");
        return label;
    }

    // ---- optimizer updates --------------------------------------------------------------------------------------
    public void SgdUpdate(Tensor weight, Tensor grad, Tensor momentumBuffer, double lr, double weightDecay, double momentum)
    {
        KernelChecks.SgdUpdate(weight, grad, momentumBuffer);
        MomentumStep(weight, grad, momentumBuffer, lr, weightDecay, momentum, 1);
    }

    public void LarsUpdate(Tensor weight, Tensor grad, Tensor momentumBuffer, double lr, double weightDecay, double momentum, double eta, bool adapt)
    {
        KernelChecks.LarsUpdate(weight, grad, momentumBuffer);
        if (!adapt)
        {
            MomentumStep(weight, grad, momentumBuffer, lr, 0, momentum, 1);
            return;
        }
        double weightNorm2 = 0, updateNorm2 = 0;
        for (long i = 0; i < weight.Numel; i++)
        {
            double w = Get(weight, i), u = Get(grad, i) + weightDecay * w;
            weightNorm2 += w * w;
            updateNorm2 += u * u;
        }
        double weightNorm = Math.Sqrt(weightNorm2), updateNorm = Math.Sqrt(updateNorm2);
        double trust = weightNorm > 0 && updateNorm > 0 ? eta * weightNorm / updateNorm : 1;
        MomentumStep(weight, grad, momentumBuffer, lr, weightDecay, momentum, trust);
    }

    /// <summary>g' = (g + wd w) trust; m = momentum m + g'; w -= lr m.</summary>
    private static void MomentumStep(Tensor weight, Tensor grad, Tensor momentumBuffer, double lr, double weightDecay, double momentum, double trust)
    {
        for (long i = 0; i < weight.Numel; i++)
        {
            double w = Get(weight, i);
            double m = momentum * Get(momentumBuffer, i) + (Get(grad, i) + weightDecay * w) * trust;
            Set(momentumBuffer, i, m);
            Set(weight, i, w - lr * m);
        }
    }

    // ---- element access -----------------------------------------------------------------------------------------
    private static double Get(Tensor t, long i) => t.DType switch
    {
        DType.Float32 => ((float*)t.Data)[i],
        DType.Float64 => ((double*)t.Data)[i],
        _ => ((int*)t.Data)[i],
    };

    private static void Set(Tensor t, long i, double v)
    {
        switch (t.DType)
        {
            case DType.Float32: ((float*)t.Data)[i] = (float)v; break;
            case DType.Float64: ((double*)t.Data)[i] = v; break;
            default: ((int*)t.Data)[i] = (int)v; break;
        }
    }

    private static void Store(Tensor t, double[] values)
    {
        for (long i = 0; i < values.Length; i++) Set(t, i, values[i]);
    }
}
