namespace Vicreg.Engine.Backends.Cpu;

public sealed unsafe partial class CpuBackend
{
    public void Conv2dForward(in Conv2dGeometry g, Tensor x, Tensor weight, Tensor y) => throw new NotImplementedException("conv: being written");
    public void Conv2dBackwardData(in Conv2dGeometry g, Tensor dy, Tensor weight, Tensor dx) => throw new NotImplementedException("conv: being written");
    public void Conv2dBackwardFilter(in Conv2dGeometry g, Tensor x, Tensor dy, Tensor dweight) => throw new NotImplementedException("conv: being written");
}
