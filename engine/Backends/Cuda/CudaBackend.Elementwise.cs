namespace Vicreg.Engine.Backends.Cuda;

/// <summary>Elementwise kernels (elementwise.cu): unary and binary ops, axpy, channel-vector adds and broadcasts.</summary>
public sealed unsafe partial class CudaBackend
{
    public void Unary(UnaryOp op, Tensor x, Tensor y, double alpha = 0)
    {
        KernelChecks.Unary(x, y);
        nint xp = F32(x, nameof(Unary)), yp = F32(y, nameof(Unary));
        long n = y.Numel;
        LaunchUnaryF32(GridFor(n), x: xp, y: yp, n: n, op: op, alpha: (float)alpha);
    }

    public void Binary(BinaryOp op, Tensor a, Tensor b, Tensor y, double alpha = 0)
    {
        KernelChecks.Binary(a, b, y);
        nint ap = F32(a, nameof(Binary)), bp = F32(b, nameof(Binary)), yp = F32(y, nameof(Binary));
        long n = y.Numel;
        LaunchBinaryF32(GridFor(n), a: ap, b: bp, y: yp, n: n, op: op, alpha: (float)alpha);
    }

    public void Axpy(double alpha, Tensor x, Tensor y)
    {
        KernelChecks.Axpy(x, y);
        nint xp = F32(x, nameof(Axpy)), yp = F32(y, nameof(Axpy));
        long n = y.Numel;
        LaunchAxpyF32(GridFor(n), x: xp, y: yp, n: n, alpha: (float)alpha);
    }

    public void AddChannelVector(Tensor x, Tensor v, int outer, int channels, int inner, double alpha, Tensor y)
    {
        KernelChecks.AddChannelVector(x, v, outer, channels, inner, y);
        nint xp = F32(x, nameof(AddChannelVector)), vp = F32(v, nameof(AddChannelVector)), yp = F32(y, nameof(AddChannelVector));
        long n = (long)outer * channels * inner;
        LaunchAddChannelVectorF32(GridFor(n), x: xp, v: vp, y: yp, n: n, channels: channels, inner: inner, alpha: (float)alpha);
    }

    public void Broadcast(Tensor x, int outer, int mid, int inner, double alpha, Tensor y)
    {
        KernelChecks.Broadcast(x, outer, mid, inner, y);
        nint xp = F32(x, nameof(Broadcast)), yp = F32(y, nameof(Broadcast));
        long n = (long)outer * mid * inner;
        LaunchBroadcastF32(GridFor(n), x: xp, y: yp, n: n, mid: mid, inner: inner, alpha: (float)alpha);
    }
}
