namespace Vicreg.Engine.Backends.Cuda;

/// <summary>2-D max pooling with our own kernels (pooling.cu): PyTorch semantics (padding is -infinity, the argmax is the
/// flat index within the plane), no descriptor plumbing.</summary>
public sealed unsafe partial class CudaBackend
{
    public void MaxPool2dForward(in Pool2dGeometry g, Tensor x, Tensor y, Tensor argmax)
    {
        KernelChecks.MaxPool2dForward(g, x, y, argmax);
        const string call = nameof(MaxPool2dForward);
        nint xp = F32(x, call), yp = F32(y, call), ap = I32(argmax, call);
        int planes = g.Batch * g.Channels, h = g.InHeight, w = g.InWidth, oh = g.OutHeight, ow = g.OutWidth;
        LaunchMaxpool2dForwardF32(GridFor((long)planes * oh * ow), x: xp, y: yp, argmax: ap, planes: planes, height: h, width: w,
            outHeight: oh, outWidth: ow, kernelH: g.KernelHeight, kernelW: g.KernelWidth, strideH: g.StrideHeight, strideW: g.StrideWidth,
            padH: g.PadHeight, padW: g.PadWidth);
    }

    public void MaxPool2dBackward(in Pool2dGeometry g, Tensor dy, Tensor argmax, Tensor dx)
    {
        KernelChecks.MaxPool2dBackward(g, dy, argmax, dx);
        const string call = nameof(MaxPool2dBackward);
        nint dyp = F32(dy, call), ap = I32(argmax, call), dxp = F32(dx, call);
        int planes = g.Batch * g.Channels, h = g.InHeight, w = g.InWidth, oh = g.OutHeight, ow = g.OutWidth;
        LaunchMaxpool2dBackwardF32(GridFor((long)planes * h * w), dy: dyp, argmax: ap, dx: dxp, planes: planes, height: h, width: w,
            outHeight: oh, outWidth: ow, kernelH: g.KernelHeight, kernelW: g.KernelWidth, strideH: g.StrideHeight, strideW: g.StrideWidth,
            padH: g.PadHeight, padW: g.PadWidth);
    }
}
