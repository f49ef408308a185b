namespace Vicreg.Engine.Backends.Cuda;

/// <summary>Optimizers (optimizers.cu): fused SGD and LARS updates in place.</summary>
public sealed unsafe partial class CudaBackend
{
    public void SgdUpdate(Tensor weight, Tensor grad, Tensor momentumBuffer, double lr, double weightDecay, double momentum)
    {
        KernelChecks.SgdUpdate(weight, grad, momentumBuffer);
        nint wp = F32(weight, nameof(SgdUpdate)), gp = F32(grad, nameof(SgdUpdate)), mp = F32(momentumBuffer, nameof(SgdUpdate));
        long n = weight.Numel;
        LaunchSgdUpdateF32(GridFor(n), w: wp, g: gp, m: mp, n: n, lr: (float)lr, weightDecay: (float)weightDecay, momentum: (float)momentum);
    }

    public void LarsUpdate(Tensor weight, Tensor grad, Tensor momentumBuffer, double lr, double weightDecay, double momentum, double eta, bool adapt)
    {
        KernelChecks.LarsUpdate(weight, grad, momentumBuffer);
        nint wp = F32(weight, nameof(LarsUpdate)), gp = F32(grad, nameof(LarsUpdate)), mp = F32(momentumBuffer, nameof(LarsUpdate));
        long n = weight.Numel;
        int partials = adapt ? PartialCount(n) : 0;
        using var scratch = new Scratch(this, 2L * Math.Max(partials, 1) * 4);
        if (adapt) LaunchLarsNormsPartialF32((uint)partials, w: wp, g: gp, n: n, weightDecay: (float)weightDecay, partials: scratch.Pointer);
        LaunchLarsUpdateF32(GridFor(n), w: wp, g: gp, m: mp, n: n, partials: scratch.Pointer, partialCount: partials, lr: (float)lr,
            weightDecay: (float)weightDecay, momentum: (float)momentum, eta: (float)eta, adapt: adapt ? 1 : 0);
    }
}
