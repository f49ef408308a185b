using Vicreg.Engine.Backends.Cpu.Convolution;

namespace Vicreg.Engine.Backends.Cpu;

public sealed unsafe partial class CpuBackend
{
    public void Conv2dForward(in Conv2dGeometry g, Tensor x, Tensor weight, Tensor y)
    {
        CheckConvolution(g, x, weight, y, "Conv2dForward");
        if (IsDouble(x)) ConvolutionForward.Run(g, Ptr<double>(x), Ptr<double>(weight), Ptr<double>(y));
        else ConvolutionForward.Run(g, Ptr<float>(x), Ptr<float>(weight), Ptr<float>(y));
    }

    public void Conv2dBackwardData(in Conv2dGeometry g, Tensor dy, Tensor weight, Tensor dx)
    {
        CheckConvolution(g, dx, weight, dy, "Conv2dBackwardData");
        if (IsDouble(dy)) ConvolutionBackwardData.Run(g, Ptr<double>(dy), Ptr<double>(weight), Ptr<double>(dx));
        else ConvolutionBackwardData.Run(g, Ptr<float>(dy), Ptr<float>(weight), Ptr<float>(dx));
    }

    public void Conv2dBackwardFilter(in Conv2dGeometry g, Tensor x, Tensor dy, Tensor dweight)
    {
        CheckConvolution(g, x, dweight, dy, "Conv2dBackwardFilter");
        if (IsDouble(x)) ConvolutionBackwardFilter.Run(g, Ptr<double>(x), Ptr<double>(dy), Ptr<double>(dweight));
        else ConvolutionBackwardFilter.Run(g, Ptr<float>(x), Ptr<float>(dy), Ptr<float>(dweight));
    }

    /// <summary>Element counts and types must match the geometry (the op has checked shapes; this guards
    /// the raw pointer arithmetic below against a mismatched call).</summary>
    private static void CheckConvolution(in Conv2dGeometry g, Tensor input, Tensor weight, Tensor output, string name)
    {
        if (input.DType != weight.DType || output.DType != weight.DType || (weight.DType != DType.Float32 && weight.DType != DType.Float64))
            throw new ArgumentException($"{name}: float32 or float64 tensors of one type, got {input.DType.Name()}, {weight.DType.Name()}, {output.DType.Name()}");
        if (g.OutHeight <= 0 || g.OutWidth <= 0 || g.StrideHeight <= 0 || g.StrideWidth <= 0)
            throw new ArgumentException($"{name}: geometry {g} has no output");
        if (input.Numel != g.InputShape.Numel || weight.Numel != g.WeightShape.Numel || output.Numel != g.OutputShape.Numel)
            throw new ShapeMismatchException($"{name}: tensors {input.Shape}, {weight.Shape}, {output.Shape} do not fit {g.InputShape}, {g.WeightShape}, {g.OutputShape}");
    }
}
