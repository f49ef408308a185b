using System.Numerics;
using System.Runtime.Intrinsics;
using Vicreg.Engine.Backends.Cpu.Kernels;

namespace Vicreg.Engine.Backends.Cpu;

// Fused, in-place optimizer steps: one pass over weight, gradient and momentum buffer.
public sealed unsafe partial class CpuBackend
{
    /// <inheritdoc/>
    public void SgdUpdate(Tensor weight, Tensor grad, Tensor momentumBuffer, double lr, double weightDecay, double momentum)
    {
        KernelChecks.SgdUpdate(weight, grad, momentumBuffer);
        if (weight.DType == DType.Float32)
            MomentumStep(Ptr<float>(weight), Ptr<float>(grad), Ptr<float>(momentumBuffer), Count(weight), (float)lr, (float)weightDecay, (float)momentum, 1f);
        else
            MomentumStep(Ptr<double>(weight), Ptr<double>(grad), Ptr<double>(momentumBuffer), Count(weight), lr, weightDecay, momentum, 1.0);
    }

    /// <inheritdoc/>
    public void LarsUpdate(Tensor weight, Tensor grad, Tensor momentumBuffer, double lr, double weightDecay, double momentum, double eta, bool adapt)
    {
        KernelChecks.LarsUpdate(weight, grad, momentumBuffer);
        if (weight.DType == DType.Float32) Lars(Ptr<float>(weight), Ptr<float>(grad), Ptr<float>(momentumBuffer), Count(weight), lr, weightDecay, momentum, eta, adapt);
        else Lars(Ptr<double>(weight), Ptr<double>(grad), Ptr<double>(momentumBuffer), Count(weight), lr, weightDecay, momentum, eta, adapt);
    }

    private static void Lars<T>(T* w, T* g, T* m, int n, double lr, double weightDecay, double momentum, double eta, bool adapt)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (!adapt)
        {
            // 1-D parameters (biases, batch-norm): neither weight decay nor the trust ratio, as the official code.
            MomentumStep(w, g, m, n, VectorMath.FromDouble<T>(lr), T.Zero, VectorMath.FromDouble<T>(momentum), T.One);
            return;
        }
        var (weightNorm2, updateNorm2) = LarsNorms(w, g, n, VectorMath.FromDouble<T>(weightDecay));
        double weightNorm = Math.Sqrt(weightNorm2), updateNorm = Math.Sqrt(updateNorm2);
        double trust = weightNorm > 0 && updateNorm > 0 ? eta * weightNorm / updateNorm : 1.0;
        MomentumStep(w, g, m, n, VectorMath.FromDouble<T>(lr), VectorMath.FromDouble<T>(weightDecay), VectorMath.FromDouble<T>(momentum), VectorMath.FromDouble<T>(trust));
    }

    /// <summary>g' = (g + wd w) * trust; m = momentum m + g'; w -= lr m.</summary>
    private static void MomentumStep<T>(T* w, T* g, T* m, int n, T lr, T weightDecay, T momentum, T trust) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var body = new MomentumStepBody<T> { W = w, G = g, M = m, N = n, Lr = lr, WeightDecay = weightDecay, Momentum = momentum, Trust = trust };
        int blocks = (n + VectorMath.ElementBlock - 1) / VectorMath.ElementBlock;
        RunTasks(blocks, n, ref body);
    }

    private struct MomentumStepBody<T> : IRangeBody where T : unmanaged, IFloatingPointIeee754<T>
    {
        public T* W, G, M;
        public int N;
        public T Lr, WeightDecay, Momentum, Trust;

        public void Run(int start, int end)
        {
            int i = start * VectorMath.ElementBlock, stop = Math.Min(N, end * VectorMath.ElementBlock), width = Vector256<T>.Count;
            var lr = Vector256.Create(Lr); var wd = Vector256.Create(WeightDecay); var mu = Vector256.Create(Momentum); var trust = Vector256.Create(Trust);
            for (; i + width <= stop; i += width)
            {
                var w = Vector256.Load(W + i);
                var update = VectorMath.Fma(w, wd, Vector256.Load(G + i)) * trust;
                var m = VectorMath.Fma(Vector256.Load(M + i), mu, update);
                Vector256.Store(m, M + i);
                Vector256.Store(w - lr * m, W + i);
            }
            for (; i < stop; i++)
            {
                T update = T.FusedMultiplyAdd(W[i], WeightDecay, G[i]) * Trust;
                T m = T.FusedMultiplyAdd(M[i], Momentum, update);
                M[i] = m;
                W[i] -= Lr * m;
            }
        }
    }

    /// <summary>||w||^2 and ||g + wd w||^2 in double, one partial per block (blocks fixed by n) added in block order.</summary>
    private static (double Weight, double Update) LarsNorms<T>(T* w, T* g, int n, T weightDecay) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int chunks = VectorMath.ReductionBlocks(n);
        double* partials = stackalloc double[2 * chunks];
        var body = new LarsNormsBody<T> { W = w, G = g, N = n, WeightDecay = weightDecay, Chunks = chunks, Partials = partials };
        if (chunks == 1) body.Run(0, 1);
        else CpuParallel.For(chunks, ref body);
        double sw = 0, su = 0;
        for (int c = 0; c < chunks; c++) { sw += partials[2 * c]; su += partials[2 * c + 1]; }
        return (sw, su);
    }

    private struct LarsNormsBody<T> : IRangeBody where T : unmanaged, IFloatingPointIeee754<T>
    {
        public T* W, G;
        public int N, Chunks;
        public T WeightDecay;
        public double* Partials;

        public void Run(int start, int end)
        {
            int width = Vector256<T>.Count;
            var wd = Vector256.Create(WeightDecay);
            for (int chunk = start; chunk < end; chunk++)
            {
                int i = CpuParallel.ChunkStart(chunk, N / 8, Chunks) * 8;
                int stop = chunk == Chunks - 1 ? N : CpuParallel.ChunkEnd(chunk, N / 8, Chunks) * 8;
                var aw0 = Vector256<double>.Zero; var aw1 = aw0; var au0 = aw0; var au1 = aw0;
                for (; i + width <= stop; i += width)
                {
                    var w = Vector256.Load(W + i);
                    // The update is formed in T, as the reference forms g + wd w in the parameter's type.
                    var u = VectorMath.Fma(w, wd, Vector256.Load(G + i));
                    var wl = VectorMath.WidenLower(w); var ul = VectorMath.WidenLower(u);
                    aw0 = VectorMath.Fma(wl, wl, aw0);
                    au0 = VectorMath.Fma(ul, ul, au0);
                    if (VectorMath.IsFloat<T>())
                    {
                        var wu = VectorMath.WidenUpper(w); var uu = VectorMath.WidenUpper(u);
                        aw1 = VectorMath.Fma(wu, wu, aw1);
                        au1 = VectorMath.Fma(uu, uu, au1);
                    }
                }
                double sw = Vector256.Sum(aw0 + aw1), su = Vector256.Sum(au0 + au1);
                for (; i < stop; i++)
                {
                    double wv = VectorMath.ToDouble(W[i]), uv = VectorMath.ToDouble(T.FusedMultiplyAdd(W[i], WeightDecay, G[i]));
                    sw += wv * wv;
                    su += uv * uv;
                }
                Partials[2 * chunk] = sw;
                Partials[2 * chunk + 1] = su;
            }
        }
    }
}
