using Vicreg.Engine.Backends.Cpu.Convolution;

namespace Vicreg.Engine.Backends.Cpu;

public sealed unsafe partial class CpuBackend
{
    /// <inheritdoc/>
    public void Conv2dForward(in Conv2dGeometry g, Tensor x, Tensor weight, Tensor y)
    {
        KernelChecks.Convolution("Conv2dForward", g, x, weight, y);
        if (IsDouble(x)) ConvolutionForward.Run(g, Ptr<double>(x), Ptr<double>(weight), Ptr<double>(y));
        else ConvolutionForward.Run(g, Ptr<float>(x), Ptr<float>(weight), Ptr<float>(y));
    }

    /// <inheritdoc/>
    public void Conv2dBackwardData(in Conv2dGeometry g, Tensor dy, Tensor weight, Tensor dx)
    {
        KernelChecks.Convolution("Conv2dBackwardData", g, dx, weight, dy);
        if (IsDouble(dy)) ConvolutionBackwardData.Run(g, Ptr<double>(dy), Ptr<double>(weight), Ptr<double>(dx));
        else ConvolutionBackwardData.Run(g, Ptr<float>(dy), Ptr<float>(weight), Ptr<float>(dx));
    }

    /// <inheritdoc/>
    public void Conv2dBackwardFilter(in Conv2dGeometry g, Tensor x, Tensor dy, Tensor dweight)
    {
        KernelChecks.Convolution("Conv2dBackwardFilter", g, x, dweight, dy);
        if (IsDouble(x)) ConvolutionBackwardFilter.Run(g, Ptr<double>(x), Ptr<double>(dy), Ptr<double>(dweight));
        else ConvolutionBackwardFilter.Run(g, Ptr<float>(x), Ptr<float>(dy), Ptr<float>(dweight));
    }
}
