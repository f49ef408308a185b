using Vicreg.Engine.Backends.Cpu.Gemm;

namespace Vicreg.Engine.Backends.Cpu;

public sealed unsafe partial class CpuBackend
{
    public void Gemm(bool transposeA, bool transposeB, double alpha, Tensor a, Tensor b, double beta, Tensor c)
    {
        if (a.Rank != 2 || b.Rank != 2 || c.Rank != 2)
            throw new ShapeMismatchException($"Gemm: operands must be 2-D, got {a.Shape}, {b.Shape}, {c.Shape}");
        if (a.DType != c.DType || b.DType != c.DType)
            throw new ArgumentException($"Gemm: mixed element types {a.DType.Name()}, {b.DType.Name()}, {c.DType.Name()}");
        int m = c.Shape[0], n = c.Shape[1];
        int k = transposeA ? a.Shape[0] : a.Shape[1];
        int am = transposeA ? a.Shape[1] : a.Shape[0];
        int bk = transposeB ? b.Shape[1] : b.Shape[0];
        int bn = transposeB ? b.Shape[0] : b.Shape[1];
        if (am != m || bn != n || bk != k)
            throw new ShapeMismatchException($"Gemm: op(a) {(transposeA ? "T" : "")}{a.Shape} times op(b) {(transposeB ? "T" : "")}{b.Shape} does not make c {c.Shape}");
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
