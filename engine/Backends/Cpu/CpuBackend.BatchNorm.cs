using System.Numerics;
using Vicreg.Engine.Backends.Cpu.Kernels;

namespace Vicreg.Engine.Backends.Cpu;

// Batch normalization over x read as [N, C, inner]: statistics per channel over N * inner values,
// accumulated in double. The work is split over channels, so each channel's sums have one fixed order whatever
// the thread count. A ReLU may be fused into the normalizing pass (forward) and read from the output's sign
// (backward): the same bodies, specialised by the map they apply and the gradient they read.
public sealed unsafe partial class CpuBackend
{
    /// <inheritdoc/>
    public void BatchNormTraining(Tensor x, Tensor? gamma, Tensor? beta, Tensor? runningMean, Tensor? runningVar,
        double momentum, double eps, Tensor y, Tensor saveMean, Tensor saveInvStd)
    {
        var (n, c, inner) = KernelChecks.BatchNormTraining(x, gamma, beta, runningMean, runningVar, y, saveMean, saveInvStd);
        if (x.DType == DType.Float32) BatchNormTraining<float, CopyOp<float>>(x, gamma, beta, runningMean, runningVar, momentum, eps, y, saveMean, saveInvStd, n, c, inner, new());
        else BatchNormTraining<double, CopyOp<double>>(x, gamma, beta, runningMean, runningVar, momentum, eps, y, saveMean, saveInvStd, n, c, inner, new());
    }

    /// <inheritdoc/>
    public void BatchNormReluTraining(Tensor x, Tensor? gamma, Tensor? beta, Tensor? runningMean, Tensor? runningVar,
        double momentum, double eps, Tensor y, Tensor saveMean, Tensor saveInvStd)
    {
        var (n, c, inner) = KernelChecks.BatchNormReluTraining(x, gamma, beta, runningMean, runningVar, y, saveMean, saveInvStd);
        if (x.DType == DType.Float32) BatchNormTraining<float, ReluOp<float>>(x, gamma, beta, runningMean, runningVar, momentum, eps, y, saveMean, saveInvStd, n, c, inner, new());
        else BatchNormTraining<double, ReluOp<double>>(x, gamma, beta, runningMean, runningVar, momentum, eps, y, saveMean, saveInvStd, n, c, inner, new());
    }

    private static void BatchNormTraining<T, TMap>(Tensor x, Tensor? gamma, Tensor? beta, Tensor? runningMean, Tensor? runningVar,
        double momentum, double eps, Tensor y, Tensor saveMean, Tensor saveInvStd, int n, int c, int inner, TMap map)
        where T : unmanaged, IFloatingPointIeee754<T> where TMap : struct, IUnaryOperator<T>
    {
        var body = new BatchNormTrainingBody<T, TMap>
        {
            X = Ptr<T>(x), Gamma = PtrOrNull<T>(gamma), Beta = PtrOrNull<T>(beta),
            RunningMean = PtrOrNull<T>(runningMean), RunningVar = PtrOrNull<T>(runningVar),
            Y = Ptr<T>(y), SaveMean = Ptr<T>(saveMean), SaveInvStd = Ptr<T>(saveInvStd),
            N = n, C = c, Inner = inner, Momentum = momentum, Eps = eps, Map = map,
        };
        RunPerChannel(ref body, x.Numel, c, inner);
    }

    /// <summary>Channels handled together when inner == 1: the (N, C) layout is walked row by row, vectorized
    /// across this many channels, instead of striding down each channel one value at a time. Also the most channels
    /// <see cref="ChannelsTogether"/> groups.</summary>
    private const int ChannelBlock = 64;

    /// <summary>How many channels of planes [N, C, inner] a body walks together, plane row by plane row: a channel's N
    /// planes lie C·inner apart, so short planes read one channel at a time are short runs, each on a page of its own
    /// (a TLB miss per plane and stream); a few neighbouring channels read together make runs of about a page. Few
    /// enough that their data (<paramref name="streams"/> tensors of <paramref name="elementSize"/> bytes) stays in
    /// L2 for the pass that follows the statistics. Each channel's sums keep their order, so the result is the same.</summary>
    private static int ChannelsTogether(int n, int inner, int elementSize, int streams)
    {
        const int run = 4096, level2 = 256 * 1024;
        long bytesPerChannel = (long)n * inner * elementSize * streams;
        return (int)Math.Clamp(Math.Min(run / ((long)inner * elementSize), level2 / Math.Max(bytesPerChannel, 1)), 1, ChannelBlock);
    }

    /// <summary>Runs a batch-norm body over its tasks: channels, or blocks of channels when inner == 1.</summary>
    private static void RunPerChannel<TBody>(ref TBody body, long elements, int channels, int inner) where TBody : struct, IRangeBody
    {
        int tasks = inner == 1 ? (channels + ChannelBlock - 1) / ChannelBlock : channels;
        RunTasks(tasks, elements, ref body);
    }

    /// <summary>The training forward, y = map(normalized x): map is the identity or a fused ReLU.</summary>
    private struct BatchNormTrainingBody<T, TMap> : IRangeBody where T : unmanaged, IFloatingPointIeee754<T> where TMap : struct, IUnaryOperator<T>
    {
        public T* X, Gamma, Beta, RunningMean, RunningVar, Y, SaveMean, SaveInvStd;
        public int N, C, Inner;
        public double Momentum, Eps;
        public TMap Map;

        public void Run(int start, int end)
        {
            if (Inner == 1) RunBlocks(start, end);
            else RunChannels(start, end);
        }

        private readonly void RunChannels(int start, int end)
        {
            int together = ChannelsTogether(N, Inner, sizeof(T), 1);
            double* k = stackalloc double[ChannelBlock];
            double* sum = stackalloc double[ChannelBlock];
            double* squares = stackalloc double[ChannelBlock];
            T* center = stackalloc T[ChannelBlock];
            T* scale = stackalloc T[ChannelBlock];
            T* shift = stackalloc T[ChannelBlock];
            long m = (long)N * Inner;
            for (int c0 = start; c0 < end; c0 += together)
            {
                int width = Math.Min(together, end - c0);
                for (int j = 0; j < width; j++)
                {
                    // The statistics in one pass over the channel, about the mean of its first plane (Inner values of
                    // one sample: within a few standard deviations of the channel's mean, usually within one), so
                    // the squared deviations keep the digits of the two-pass sum: (mean - k)^2 / var is small.
                    k[j] = VectorMath.Sum(X + (long)(c0 + j) * Inner, Inner) / Inner;
                    sum[j] = squares[j] = 0;
                }
                for (int n = 0; n < N; n++)
                    for (int j = 0; j < width; j++)
                    {
                        var (s, q) = VectorMath.ShiftedSums(X + ((long)n * C + c0 + j) * Inner, Inner, k[j]);
                        sum[j] += s;
                        squares[j] += q;
                    }
                for (int j = 0; j < width; j++)
                {
                    double deviations = Math.Max(squares[j] - sum[j] * sum[j] / m, 0); // sum of (x - mean)^2; rounding may dip below 0
                    Finish(c0 + j, k[j] + sum[j] / m, deviations, out center[j], out scale[j], out shift[j]);
                }
                for (int n = 0; n < N; n++)
                    for (int j = 0; j < width; j++)
                    {
                        long offset = ((long)n * C + c0 + j) * Inner;
                        VectorMath.CenterScaleShift(X + offset, Y + offset, Inner, center[j], scale[j], shift[j], Map);
                    }
            }
        }

        private readonly void RunBlocks(int start, int end)
        {
            double* mean = stackalloc double[ChannelBlock];
            double* squares = stackalloc double[ChannelBlock];
            T* center = stackalloc T[ChannelBlock];
            T* scale = stackalloc T[ChannelBlock];
            T* shift = stackalloc T[ChannelBlock];
            for (int block = start; block < end; block++)
            {
                int c0 = block * ChannelBlock, width = Math.Min(ChannelBlock, C - c0);
                new Span<double>(mean, width).Clear();
                new Span<double>(squares, width).Clear();
                ColumnMath.Sum(X + c0, N, C, width, mean);
                for (int j = 0; j < width; j++) mean[j] /= N;
                ColumnMath.SumOfSquaredDeviations(X + c0, N, C, width, mean, squares);
                for (int j = 0; j < width; j++) Finish(c0 + j, mean[j], squares[j], out center[j], out scale[j], out shift[j]);
                ColumnMath.CenterScaleShift(X + c0, Y + c0, N, C, width, center, scale, shift, Map);
            }
        }

        /// <summary>Writes channel c's saved and running statistics; returns y = (x - center) scale + shift.</summary>
        private readonly void Finish(int c, double mean, double squares, out T center, out T scale, out T shift)
        {
            long m = (long)N * Inner;
            double variance = squares / m;
            double invStd = 1.0 / Math.Sqrt(variance + Eps);
            SaveMean[c] = VectorMath.FromDouble<T>(mean);
            SaveInvStd[c] = VectorMath.FromDouble<T>(invStd);
            if (RunningMean != null)
            {
                // PyTorch keeps the unbiased variance; with a single value per channel (m == 1), where
                // PyTorch refuses to train, the biased one (zero) is kept rather than dividing by zero.
                double unbiased = m > 1 ? squares / (m - 1) : variance;
                RunningMean[c] = VectorMath.FromDouble<T>((1 - Momentum) * VectorMath.ToDouble(RunningMean[c]) + Momentum * mean);
                RunningVar[c] = VectorMath.FromDouble<T>((1 - Momentum) * VectorMath.ToDouble(RunningVar[c]) + Momentum * unbiased);
            }
            double g = Gamma != null ? VectorMath.ToDouble(Gamma[c]) : 1.0;
            center = VectorMath.FromDouble<T>(mean);
            scale = VectorMath.FromDouble<T>(g * invStd);
            shift = Beta != null ? Beta[c] : T.Zero;
        }
    }

    /// <inheritdoc/>
    public void BatchNormInference(Tensor x, Tensor? gamma, Tensor? beta, Tensor runningMean, Tensor runningVar, double eps, Tensor y)
    {
        var (n, c, inner) = KernelChecks.BatchNormInference(x, gamma, beta, runningMean, runningVar, y);
        if (x.DType == DType.Float32) BatchNormInference<float>(x, gamma, beta, runningMean, runningVar, eps, y, n, c, inner);
        else BatchNormInference<double>(x, gamma, beta, runningMean, runningVar, eps, y, n, c, inner);
    }

    private static void BatchNormInference<T>(Tensor x, Tensor? gamma, Tensor? beta, Tensor runningMean, Tensor runningVar,
        double eps, Tensor y, int n, int c, int inner) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var body = new BatchNormInferenceBody<T>
        {
            X = Ptr<T>(x), Gamma = PtrOrNull<T>(gamma), Beta = PtrOrNull<T>(beta),
            RunningMean = Ptr<T>(runningMean), RunningVar = Ptr<T>(runningVar), Y = Ptr<T>(y),
            N = n, C = c, Inner = inner, Eps = eps,
        };
        RunPerChannel(ref body, x.Numel, c, inner);
    }

    private struct BatchNormInferenceBody<T> : IRangeBody where T : unmanaged, IFloatingPointIeee754<T>
    {
        public T* X, Gamma, Beta, RunningMean, RunningVar, Y;
        public int N, C, Inner;
        public double Eps;

        public void Run(int start, int end)
        {
            if (Inner == 1)
            {
                T* scale = stackalloc T[ChannelBlock];
                T* shift = stackalloc T[ChannelBlock];
                for (int block = start; block < end; block++)
                {
                    int c0 = block * ChannelBlock, width = Math.Min(ChannelBlock, C - c0);
                    for (int j = 0; j < width; j++) Coefficients(c0 + j, out scale[j], out shift[j]);
                    ColumnMath.CenterScaleShift(X + c0, Y + c0, N, C, width, RunningMean + c0, scale, shift, new CopyOp<T>());
                }
                return;
            }
            for (int c = start; c < end; c++)
            {
                Coefficients(c, out T scale, out T shift);
                for (int n = 0; n < N; n++)
                {
                    long offset = ((long)n * C + c) * Inner;
                    VectorMath.CenterScaleShift(X + offset, Y + offset, Inner, RunningMean[c], scale, shift, new CopyOp<T>());
                }
            }
        }

        private readonly void Coefficients(int c, out T scale, out T shift)
        {
            double invStd = 1.0 / Math.Sqrt(VectorMath.ToDouble(RunningVar[c]) + Eps);
            double g = Gamma != null ? VectorMath.ToDouble(Gamma[c]) : 1.0;
            scale = VectorMath.FromDouble<T>(g * invStd);
            shift = Beta != null ? Beta[c] : T.Zero;
        }
    }

    /// <inheritdoc/>
    public void BatchNormBackward(Tensor x, Tensor dy, Tensor? gamma, Tensor saveMean, Tensor saveInvStd,
        Tensor dx, Tensor? dgamma, Tensor? dbeta)
    {
        var (n, c, inner) = KernelChecks.BatchNormBackward(x, dy, gamma, saveMean, saveInvStd, dx, dgamma, dbeta);
        if (x.DType == DType.Float32) BatchNormBackward<float, PlainGradient<float>>(x, new(Ptr<float>(dy)), gamma, saveMean, saveInvStd, dx, dgamma, dbeta, n, c, inner);
        else BatchNormBackward<double, PlainGradient<double>>(x, new(Ptr<double>(dy)), gamma, saveMean, saveInvStd, dx, dgamma, dbeta, n, c, inner);
    }

    /// <inheritdoc/>
    public void BatchNormReluBackward(Tensor x, Tensor y, Tensor dy, Tensor? gamma, Tensor saveMean, Tensor saveInvStd,
        Tensor dx, Tensor? dgamma, Tensor? dbeta)
    {
        var (n, c, inner) = KernelChecks.BatchNormReluBackward(x, y, dy, gamma, saveMean, saveInvStd, dx, dgamma, dbeta);
        if (x.DType == DType.Float32) BatchNormBackward<float, ReluGradient<float>>(x, new(Ptr<float>(dy), Ptr<float>(y)), gamma, saveMean, saveInvStd, dx, dgamma, dbeta, n, c, inner);
        else BatchNormBackward<double, ReluGradient<double>>(x, new(Ptr<double>(dy), Ptr<double>(y)), gamma, saveMean, saveInvStd, dx, dgamma, dbeta, n, c, inner);
    }

    private static void BatchNormBackward<T, TDy>(Tensor x, TDy dy, Tensor? gamma, Tensor saveMean, Tensor saveInvStd,
        Tensor dx, Tensor? dgamma, Tensor? dbeta, int n, int c, int inner)
        where T : unmanaged, IFloatingPointIeee754<T> where TDy : struct, IOutputGradient<T, TDy>
    {
        var body = new BatchNormBackwardBody<T, TDy>
        {
            X = Ptr<T>(x), Dy = dy, Gamma = PtrOrNull<T>(gamma), SaveMean = Ptr<T>(saveMean),
            SaveInvStd = Ptr<T>(saveInvStd), Dx = Ptr<T>(dx), DGamma = PtrOrNull<T>(dgamma), DBeta = PtrOrNull<T>(dbeta),
            N = n, C = c, Inner = inner,
        };
        RunPerChannel(ref body, x.Numel, c, inner);
    }

    /// <summary>The backward from the gradient of the batch norm's output, as given or through a fused ReLU.</summary>
    private struct BatchNormBackwardBody<T, TDy> : IRangeBody
        where T : unmanaged, IFloatingPointIeee754<T> where TDy : struct, IOutputGradient<T, TDy>
    {
        public T* X, Gamma, SaveMean, SaveInvStd, Dx, DGamma, DBeta;
        public TDy Dy;
        public int N, C, Inner;

        public void Run(int start, int end)
        {
            if (Inner == 1) RunBlocks(start, end);
            else RunChannels(start, end);
        }

        private readonly void RunChannels(int start, int end)
        {
            // x, dy and, behind a fused ReLU, y are read twice.
            int together = ChannelsTogether(N, Inner, sizeof(T), 3);
            double* sumDy = stackalloc double[ChannelBlock];
            double* sumDyXmu = stackalloc double[ChannelBlock];
            T* a = stackalloc T[ChannelBlock];
            T* b = stackalloc T[ChannelBlock];
            T* k = stackalloc T[ChannelBlock];
            for (int c0 = start; c0 < end; c0 += together)
            {
                int width = Math.Min(together, end - c0);
                new Span<double>(sumDy, width).Clear();
                new Span<double>(sumDyXmu, width).Clear();
                for (int n = 0; n < N; n++)
                    for (int j = 0; j < width; j++)
                    {
                        long offset = ((long)n * C + c0 + j) * Inner;
                        var (sd, sp) = VectorMath.SumDyAndDyXmu(Dy.At(offset), X + offset, Inner, VectorMath.ToDouble(SaveMean[c0 + j]));
                        sumDy[j] += sd;
                        sumDyXmu[j] += sp;
                    }
                for (int j = 0; j < width; j++) Finish(c0 + j, sumDy[j], sumDyXmu[j], out a[j], out b[j], out k[j]);
                for (int n = 0; n < N; n++)
                    for (int j = 0; j < width; j++)
                    {
                        long offset = ((long)n * C + c0 + j) * Inner;
                        VectorMath.BatchNormGradient(Dy.At(offset), X + offset, Dx + offset, Inner, SaveMean[c0 + j], a[j], b[j], k[j]);
                    }
            }
        }

        private readonly void RunBlocks(int start, int end)
        {
            double* mean = stackalloc double[ChannelBlock];
            double* sumDy = stackalloc double[ChannelBlock];
            double* sumDyXmu = stackalloc double[ChannelBlock];
            T* a = stackalloc T[ChannelBlock];
            T* b = stackalloc T[ChannelBlock];
            T* k = stackalloc T[ChannelBlock];
            for (int block = start; block < end; block++)
            {
                int c0 = block * ChannelBlock, width = Math.Min(ChannelBlock, C - c0);
                for (int j = 0; j < width; j++) mean[j] = VectorMath.ToDouble(SaveMean[c0 + j]);
                new Span<double>(sumDy, width).Clear();
                new Span<double>(sumDyXmu, width).Clear();
                ColumnMath.SumDyAndDyXmu(Dy.At(c0), X + c0, N, C, width, mean, sumDy, sumDyXmu);
                for (int j = 0; j < width; j++) Finish(c0 + j, sumDy[j], sumDyXmu[j], out a[j], out b[j], out k[j]);
                ColumnMath.BatchNormGradient(Dy.At(c0), X + c0, Dx + c0, N, C, width, SaveMean + c0, a, b, k);
            }
        }

        /// <summary>Writes dgamma and dbeta of channel c and returns the coefficients of
        /// dx = g invstd / M (M dy - sum dy - xhat sum(dy xhat)), xhat = (x - mean) invstd, in the form
        /// dx = a dy + b (x - mean) + k.</summary>
        private readonly void Finish(int c, double sumDy, double sumDyXmu, out T a, out T b, out T k)
        {
            long m = (long)N * Inner;
            double invStd = VectorMath.ToDouble(SaveInvStd[c]);
            if (DBeta != null) DBeta[c] = VectorMath.FromDouble<T>(sumDy);
            if (DGamma != null) DGamma[c] = VectorMath.FromDouble<T>(sumDyXmu * invStd);
            double g = Gamma != null ? VectorMath.ToDouble(Gamma[c]) : 1.0;
            double da = g * invStd;
            a = VectorMath.FromDouble<T>(da);
            b = VectorMath.FromDouble<T>(-da * invStd * invStd * sumDyXmu / m);
            k = VectorMath.FromDouble<T>(-da * sumDy / m);
        }
    }
}
