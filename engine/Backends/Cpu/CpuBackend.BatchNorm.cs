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
            RunPerChannel(ref body, x.Numel, c);
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
            RunPerChannel(ref body, x.Numel, c);
        }
    }

    private static void RunPerChannel<TBody>(ref TBody body, long elements, int channels) where TBody : struct, IRangeBody
    {
        if (elements < VectorMath.ParallelThreshold) body.Run(0, channels);
        else CpuParallel.For(channels, ref body);
    }

    private struct BatchNormTrainingBody<T> : IRangeBody where T : unmanaged, IFloatingPointIeee754<T>
    {
        public T* X, Gamma, Beta, RunningMean, RunningVar, Y, SaveMean, SaveInvStd;
        public int N, C, Inner;
        public double Momentum, Eps;

        public void Run(int start, int end)
        {
            long m = (long)N * Inner;
            for (int c = start; c < end; c++)
            {
                double sum = 0;
                for (int n = 0; n < N; n++) sum += VectorMath.Sum(X + ((long)n * C + c) * Inner, Inner);
                double mean = sum / m;
                double squares = 0;
                for (int n = 0; n < N; n++) squares += VectorMath.SumOfSquaredDeviations(X + ((long)n * C + c) * Inner, Inner, mean);
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
                double b = Beta != null ? VectorMath.ToDouble(Beta[c]) : 0.0;
                T center = VectorMath.FromDouble<T>(mean), scale = VectorMath.FromDouble<T>(g * invStd), shift = VectorMath.FromDouble<T>(b);
                for (int n = 0; n < N; n++)
                {
                    long offset = ((long)n * C + c) * Inner;
                    VectorMath.CenterScaleShift(X + offset, Y + offset, Inner, center, scale, shift);
                }
            }
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
            RunPerChannel(ref body, x.Numel, c);
        }
        else
        {
            var body = new BatchNormInferenceBody<double>
            {
                X = Ptr<double>(x), Gamma = PtrOrNull<double>(gamma), Beta = PtrOrNull<double>(beta),
                RunningMean = Ptr<double>(runningMean), RunningVar = Ptr<double>(runningVar), Y = Ptr<double>(y),
                N = n, C = c, Inner = inner, Eps = eps,
            };
            RunPerChannel(ref body, x.Numel, c);
        }
    }

    private struct BatchNormInferenceBody<T> : IRangeBody where T : unmanaged, IFloatingPointIeee754<T>
    {
        public T* X, Gamma, Beta, RunningMean, RunningVar, Y;
        public int N, C, Inner;
        public double Eps;

        public void Run(int start, int end)
        {
            for (int c = start; c < end; c++)
            {
                double invStd = 1.0 / Math.Sqrt(VectorMath.ToDouble(RunningVar[c]) + Eps);
                double g = Gamma != null ? VectorMath.ToDouble(Gamma[c]) : 1.0;
                double b = Beta != null ? VectorMath.ToDouble(Beta[c]) : 0.0;
                T center = RunningMean[c], scale = VectorMath.FromDouble<T>(g * invStd), shift = VectorMath.FromDouble<T>(b);
                for (int n = 0; n < N; n++)
                {
                    long offset = ((long)n * C + c) * Inner;
                    VectorMath.CenterScaleShift(X + offset, Y + offset, Inner, center, scale, shift);
                }
            }
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
            RunPerChannel(ref body, x.Numel, c);
        }
        else
        {
            var body = new BatchNormBackwardBody<double>
            {
                X = Ptr<double>(x), Dy = Ptr<double>(dy), Gamma = PtrOrNull<double>(gamma), SaveMean = Ptr<double>(saveMean),
                SaveInvStd = Ptr<double>(saveInvStd), Dx = Ptr<double>(dx), DGamma = PtrOrNull<double>(dgamma), DBeta = PtrOrNull<double>(dbeta),
                N = n, C = c, Inner = inner,
            };
            RunPerChannel(ref body, x.Numel, c);
        }
    }

    private struct BatchNormBackwardBody<T> : IRangeBody where T : unmanaged, IFloatingPointIeee754<T>
    {
        public T* X, Dy, Gamma, SaveMean, SaveInvStd, Dx, DGamma, DBeta;
        public int N, C, Inner;

        public void Run(int start, int end)
        {
            long m = (long)N * Inner;
            for (int c = start; c < end; c++)
            {
                double mean = VectorMath.ToDouble(SaveMean[c]), invStd = VectorMath.ToDouble(SaveInvStd[c]);
                double sumDy = 0, sumDyXmu = 0;
                for (int n = 0; n < N; n++)
                {
                    long offset = ((long)n * C + c) * Inner;
                    var (sd, sp) = VectorMath.SumDyAndDyXmu(Dy + offset, X + offset, Inner, mean);
                    sumDy += sd;
                    sumDyXmu += sp;
                }
                if (DBeta != null) DBeta[c] = VectorMath.FromDouble<T>(sumDy);
                if (DGamma != null) DGamma[c] = VectorMath.FromDouble<T>(sumDyXmu * invStd);
                // dx = g invstd / M (M dy - sum dy - xhat sum(dy xhat)), with xhat = (x - mean) invstd:
                // dx = a dy + b (x - mean) + c.
                double g = Gamma != null ? VectorMath.ToDouble(Gamma[c]) : 1.0;
                double a = g * invStd;
                double b = -a * invStd * invStd * sumDyXmu / m;
                double k = -a * sumDy / m;
                T center = SaveMean[c], ta = VectorMath.FromDouble<T>(a), tb = VectorMath.FromDouble<T>(b), tk = VectorMath.FromDouble<T>(k);
                for (int n = 0; n < N; n++)
                {
                    long offset = ((long)n * C + c) * Inner;
                    VectorMath.BatchNormGradient(Dy + offset, X + offset, Dx + offset, Inner, center, ta, tb, tk);
                }
            }
        }
    }
}
