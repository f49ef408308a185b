using Vicreg.Engine.Backends.Cpu.Gemm;

namespace Vicreg.Engine.Backends.Cpu;

public sealed unsafe partial class CpuBackend
{
    /// <inheritdoc/>
    public void Gemm(bool transposeA, bool transposeB, double alpha, Tensor a, Tensor b, double beta, Tensor c)
    {
        var (m, n, k) = KernelChecks.Gemm(transposeA, transposeB, a, b, c);
        switch (c.DType)
        {
            case DType.Float32:
                GemmKernel.Run(transposeA, transposeB, m, n, k, (float)alpha, Ptr<float>(a), a.Shape[1], Ptr<float>(b), b.Shape[1],
                    (float)beta, Ptr<float>(c), n);
                break;
            case DType.Float64:
                GemmKernel.Run(transposeA, transposeB, m, n, k, alpha, Ptr<double>(a), a.Shape[1], Ptr<double>(b), b.Shape[1],
                    beta, Ptr<double>(c), n);
                break;
            default:
                throw new NotSupportedException($"Gemm on {c.DType.Name()}");
        }
    }
}
