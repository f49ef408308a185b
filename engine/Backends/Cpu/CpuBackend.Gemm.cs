namespace Vicreg.Engine.Backends.Cpu;

public sealed unsafe partial class CpuBackend
{
    public void Gemm(bool transposeA, bool transposeB, double alpha, Tensor a, Tensor b, double beta, Tensor c)
        => throw new NotImplementedException("GEMM: being written");
}
