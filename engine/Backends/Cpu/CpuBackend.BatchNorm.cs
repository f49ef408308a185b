using System.Numerics;
using Vicreg.Engine.Backends.Cpu.Kernels;

namespace Vicreg.Engine.Backends.Cpu;

// Batch normalisation over x read as [N, C, inner]: statistics per channel over N * inner values,
// accumulated in double (two passes: the mean, then the squared deviations from it, so no cancellation).
// The work is split over channels, so each channel's sums have one fixed order whatever the thread count.
public sealed unsafe partial class CpuBackend
{
    /// <summary>The [N, C, inner] reading of a batch-norm input: rank 2 (N, C) or more (N, C, H, W...).</summary>
    private static (int N, int C, int Inner) BatchNormLayout(string name, Tensor x)
    {
        if (x.Rank < 2) throw new ShapeMismatchException($"{name}: x must be (N, C) or (N, C, ...), got {x.Shape}");
        return (x.Shape[0], x.Shape[1], x.Rank == 2 ? 1 : x.Shape.Product(2, x.Rank));
    }

    private static void CheckChannelVector(string name, string what, Tensor? v, Tensor x, int channels)
    {
        if (v is null) return;
        KernelChecks.SameType(name, x, v);
        KernelChecks.Count(name, what, v, channels);
    }

    public void BatchNormTraining(Tensor x, Tensor? gamma, Tensor? beta, Tensor? runningMean, Tensor? runningVar,
        double momentum, double eps, Tensor y, Tensor saveMean, Tensor saveInvStd)
    {
        const string name = "BatchNormTraining";
        KernelChecks.Floating(name, x);
        var (n, c, inner) = BatchNormLayout(name, x);
        KernelChecks.SameType(name, x, y);
        KernelChecks.SameCount(name, x, y);
        CheckChannelVector(name, "gamma", gamma, x, c);
        CheckChannelVector(name, "beta", beta, x, c);
        CheckChannelVector(name, "runningMean", runningMean, x, c);
        CheckChannelVector(name, "runningVar", runningVar, x, c);
        CheckChannelVector(name, "saveMean", saveMean, x, c);
        CheckChannelVector(name, "saveInvStd", saveInvStd, x, c);
        if ((runningMean is null) != (runningVar is null))
            throw new ArgumentException($"{name}: give both running statistics or neither");
        if (x.DType == DType.Float32)
        {
            var body = new BatchNormTrainingBody<float>
            {
                X = Ptr<float>(x), Gamma = PtrOrNull<float>(gamma), Beta = PtrOrNull<float>(beta),
                RunningMean = PtrOrNull<float>(runningMean), RunningVar = PtrOrNull<float>(runningVar),
                Y = Ptr<float>(y), SaveMean = Ptr<float>(saveMean), SaveInvStd = Ptr<float>(saveInvStd),
                N = n, C = c, Inner = inner, Momentum = momentum, Eps = eps,
            };
            RunPerChannel(ref body, x.Numel, c, inner);
        }
        else
        {
            var body = new BatchNormTrainingBody<double>
            {
                X = Ptr<double>(x), Gamma = PtrOrNull<double>(gamma), Beta = PtrOrNull<double>(beta),
                RunningMean = PtrOrNull<double>(runningMean), RunningVar = PtrOrNull<double>(runningVar),
                Y = Ptr<double>(y), SaveMean = Ptr<double>(saveMean), SaveInvStd = Ptr<double>(saveInvStd),
                N = n, C = c, Inner = inner, Momentum = momentum, Eps = eps,
            };
            RunPerChannel(ref body, x.Numel, c, inner);
        }
    }

    /// <summary>Channels handled together when inner == 1: the (N, C) layout is walked row by row, vectorised
    /// across this many channels, instead of striding down each channel one value at a time.</summary>
    private const int ChannelBlock = 64;

    /// <summary>Runs a batch-norm body over its tasks: channels, or blocks of channels when inner == 1.</summary>
    private static void RunPerChannel<TBody>(ref TBody body, long elements, int channels, int inner) where TBody : struct, IRangeBody
    {
        int tasks = inner == 1 ? (channels + ChannelBlock - 1) / ChannelBlock : channels;
        RunTasks(tasks, elements, ref body);
    }

    private struct BatchNormTrainingBody<T> : IRangeBody where T : unmanaged, IFloatingPointIeee754<T>
    {
        public T* X, Gamma, Beta, RunningMean, RunningVar, Y, SaveMean, SaveInvStd;
        public int N, C, Inner;
        public double Momentum, Eps;

        public void Run(int start, int end)
        {
            if (Inner == 1) RunBlocks(start, end);
            else RunChannels(start, end);
        }

        private readonly void RunChannels(int start, int end)
        {
            for (int c = start; c < end; c++)
            {
                double sum = 0;
                for (int n = 0; n < N; n++) sum += VectorMath.Sum(X + ((long)n * C + c) * Inner, Inner);
                double mean = sum / ((long)N * Inner);
                double squares = 0;
                for (int n = 0; n < N; n++) squares += VectorMath.SumOfSquaredDeviations(X + ((long)n * C + c) * Inner, Inner, mean);
                Finish(c, mean, squares, out T center, out T scale, out T shift);
                for (int n = 0; n < N; n++)
                {
                    long offset = ((long)n * C + c) * Inner;
                    VectorMath.CenterScaleShift(X + offset, Y + offset, Inner, center, scale, shift);
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
                ColumnMath.CenterScaleShift(X + c0, Y + c0, N, C, width, center, scale, shift);
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

    public void BatchNormInference(Tensor x, Tensor? gamma, Tensor? beta, Tensor runningMean, Tensor runningVar, double eps, Tensor y)
    {
        const string name = "BatchNormInference";
        KernelChecks.Floating(name, x);
        var (n, c, inner) = BatchNormLayout(name, x);
        KernelChecks.SameType(name, x, y);
        KernelChecks.SameCount(name, x, y);
        CheckChannelVector(name, "gamma", gamma, x, c);
        CheckChannelVector(name, "beta", beta, x, c);
        CheckChannelVector(name, "runningMean", runningMean, x, c);
        CheckChannelVector(name, "runningVar", runningVar, x, c);
        if (x.DType == DType.Float32)
        {
            var body = new BatchNormInferenceBody<float>
            {
                X = Ptr<float>(x), Gamma = PtrOrNull<float>(gamma), Beta = PtrOrNull<float>(beta),
                RunningMean = Ptr<float>(runningMean), RunningVar = Ptr<float>(runningVar), Y = Ptr<float>(y),
                N = n, C = c, Inner = inner, Eps = eps,
            };
            RunPerChannel(ref body, x.Numel, c, inner);
        }
        else
        {
            var body = new BatchNormInferenceBody<double>
            {
                X = Ptr<double>(x), Gamma = PtrOrNull<double>(gamma), Beta = PtrOrNull<double>(beta),
                RunningMean = Ptr<double>(runningMean), RunningVar = Ptr<double>(runningVar), Y = Ptr<double>(y),
                N = n, C = c, Inner = inner, Eps = eps,
            };
            RunPerChannel(ref body, x.Numel, c, inner);
        }
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
                    ColumnMath.CenterScaleShift(X + c0, Y + c0, N, C, width, RunningMean + c0, scale, shift);
                }
                return;
            }
            for (int c = start; c < end; c++)
            {
                Coefficients(c, out T scale, out T shift);
                for (int n = 0; n < N; n++)
                {
                    long offset = ((long)n * C + c) * Inner;
                    VectorMath.CenterScaleShift(X + offset, Y + offset, Inner, RunningMean[c], scale, shift);
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

    public void BatchNormBackward(Tensor x, Tensor dy, Tensor? gamma, Tensor saveMean, Tensor saveInvStd,
        Tensor dx, Tensor? dgamma, Tensor? dbeta)
    {
        const string name = "BatchNormBackward";
        KernelChecks.Floating(name, x);
        var (n, c, inner) = BatchNormLayout(name, x);
        KernelChecks.SameType(name, x, dy);
        KernelChecks.SameType(name, x, dx);
        KernelChecks.SameCount(name, x, dy);
        KernelChecks.SameCount(name, x, dx);
        CheckChannelVector(name, "gamma", gamma, x, c);
        CheckChannelVector(name, "saveMean", saveMean, x, c);
        CheckChannelVector(name, "saveInvStd", saveInvStd, x, c);
        CheckChannelVector(name, "dgamma", dgamma, x, c);
        CheckChannelVector(name, "dbeta", dbeta, x, c);
        if (x.DType == DType.Float32)
        {
            var body = new BatchNormBackwardBody<float>
            {
                X = Ptr<float>(x), Dy = Ptr<float>(dy), Gamma = PtrOrNull<float>(gamma), SaveMean = Ptr<float>(saveMean),
                SaveInvStd = Ptr<float>(saveInvStd), Dx = Ptr<float>(dx), DGamma = PtrOrNull<float>(dgamma), DBeta = PtrOrNull<float>(dbeta),
                N = n, C = c, Inner = inner,
            };
            RunPerChannel(ref body, x.Numel, c, inner);
        }
        else
        {
            var body = new BatchNormBackwardBody<double>
            {
                X = Ptr<double>(x), Dy = Ptr<double>(dy), Gamma = PtrOrNull<double>(gamma), SaveMean = Ptr<double>(saveMean),
                SaveInvStd = Ptr<double>(saveInvStd), Dx = Ptr<double>(dx), DGamma = PtrOrNull<double>(dgamma), DBeta = PtrOrNull<double>(dbeta),
                N = n, C = c, Inner = inner,
            };
            RunPerChannel(ref body, x.Numel, c, inner);
        }
    }

    private struct BatchNormBackwardBody<T> : IRangeBody where T : unmanaged, IFloatingPointIeee754<T>
    {
        public T* X, Dy, Gamma, SaveMean, SaveInvStd, Dx, DGamma, DBeta;
        public int N, C, Inner;

        public void Run(int start, int end)
        {
            if (Inner == 1) RunBlocks(start, end);
            else RunChannels(start, end);
        }

        private readonly void RunChannels(int start, int end)
        {
            for (int c = start; c < end; c++)
            {
                double mean = VectorMath.ToDouble(SaveMean[c]);
                double sumDy = 0, sumDyXmu = 0;
                for (int n = 0; n < N; n++)
                {
                    long offset = ((long)n * C + c) * Inner;
                    var (sd, sp) = VectorMath.SumDyAndDyXmu(Dy + offset, X + offset, Inner, mean);
                    sumDy += sd;
                    sumDyXmu += sp;
                }
                Finish(c, sumDy, sumDyXmu, out T a, out T b, out T k);
                for (int n = 0; n < N; n++)
                {
                    long offset = ((long)n * C + c) * Inner;
                    VectorMath.BatchNormGradient(Dy + offset, X + offset, Dx + offset, Inner, SaveMean[c], a, b, k);
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
                ColumnMath.SumDyAndDyXmu(Dy + c0, X + c0, N, C, width, mean, sumDy, sumDyXmu);
                for (int j = 0; j < width; j++) Finish(c0 + j, sumDy[j], sumDyXmu[j], out a[j], out b[j], out k[j]);
                ColumnMath.BatchNormGradient(Dy + c0, X + c0, Dx + c0, N, C, width, SaveMean + c0, a, b, k);
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
