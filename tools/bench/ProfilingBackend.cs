using System.Diagnostics;
using Vicreg.Engine;

namespace Vicreg.Bench;

/// <summary>
/// Wraps a backend and adds up the wall time of every kernel call by name (convolutions split by
/// direction and kernel size), so a training step's time can be attributed, and the nominal floating-point
/// work of the GEMMs and convolutions (2 per multiply-add of the direct method), so that its rate can be
/// placed against the machine's peak. Only for the CPU backend, whose calls are synchronous.
/// </summary>
public sealed class ProfilingBackend(IBackend inner) : IBackend
{
    private readonly Dictionary<string, (long Ticks, long Calls)> _totals = new();

    public IReadOnlyDictionary<string, (long Ticks, long Calls)> Totals => _totals;
    /// <summary>Nominal flops of the GEMMs and convolutions since the last <see cref="Reset"/>.</summary>
    public double Flops { get; private set; }

    public void Reset()
    {
        _totals.Clear();
        Flops = 0;
    }

    private void Time(string name, Action call)
    {
        long start = Stopwatch.GetTimestamp();
        call();
        long ticks = Stopwatch.GetTimestamp() - start;
        _totals[name] = _totals.TryGetValue(name, out var t) ? (t.Ticks + ticks, t.Calls + 1) : (ticks, 1);
    }

    private static string Conv(string what, in Conv2dGeometry g) =>
        $"conv {what} {g.KernelHeight}x{g.KernelWidth}/{g.StrideHeight} {g.InChannels}->{g.OutChannels} @{g.InHeight}";

    public string Name => inner.Name;
    public bool IsHostMemory => inner.IsHostMemory;
    public bool Supports(DType dtype) => inner.Supports(dtype);
    public nint Allocate(long bytes) => inner.Allocate(bytes);
    public void Free(nint pointer, long bytes) => inner.Free(pointer, bytes);
    public AllocatorStatistics MemoryStatistics => inner.MemoryStatistics;
    public void CopyFromHost(ReadOnlySpan<byte> source, Tensor destination) => inner.CopyFromHost(source, destination);
    public void CopyToHost(Tensor source, Span<byte> destination) => inner.CopyToHost(source, destination);
    public void Copy(Tensor s, long so, Tensor d, long dof, long n) => Time("copy", () => inner.Copy(s, so, d, dof, n));
    public void Fill(Tensor t, double v) => Time("fill", () => inner.Fill(t, v));
    public void FillDiagonal(Tensor t, double v) => Time("fill", () => inner.FillDiagonal(t, v));
    public void Synchronize() => inner.Synchronize();
    public void Dispose() { }
    public void Gemm(bool ta, bool tb, double alpha, Tensor a, Tensor b, double beta, Tensor c)
    {
        // C [m x n] = op(A) op(B): A holds m x k elements whichever way round.
        long m = ta ? a.Shape[a.Rank - 1] : a.Numel / a.Shape[a.Rank - 1];
        Flops += 2.0 * c.Numel * (a.Numel / Math.Max(m, 1));
        Time("gemm", () => inner.Gemm(ta, tb, alpha, a, b, beta, c));
    }
    public void Conv2dForward(in Conv2dGeometry g, Tensor x, Tensor w, Tensor y) { var h = g; Flops += 2.0 * g.MultiplyAdds; Time(Conv("fwd", g), () => inner.Conv2dForward(h, x, w, y)); }
    public void Conv2dBackwardData(in Conv2dGeometry g, Tensor dy, Tensor w, Tensor dx) { var h = g; Flops += 2.0 * g.MultiplyAdds; Time(Conv("bwd-data", g), () => inner.Conv2dBackwardData(h, dy, w, dx)); }
    public void Conv2dBackwardFilter(in Conv2dGeometry g, Tensor x, Tensor dy, Tensor dw) { var h = g; Flops += 2.0 * g.MultiplyAdds; Time(Conv("bwd-filter", g), () => inner.Conv2dBackwardFilter(h, x, dy, dw)); }
    public void BatchNormTraining(Tensor x, Tensor? g, Tensor? b, Tensor? rm, Tensor? rv, double m, double e, Tensor y, Tensor sm, Tensor si)
        => Time("batchnorm fwd", () => inner.BatchNormTraining(x, g, b, rm, rv, m, e, y, sm, si));
    public void BatchNormInference(Tensor x, Tensor? g, Tensor? b, Tensor rm, Tensor rv, double e, Tensor y) => Time("batchnorm eval", () => inner.BatchNormInference(x, g, b, rm, rv, e, y));
    public void BatchNormBackward(Tensor x, Tensor dy, Tensor? g, Tensor sm, Tensor si, Tensor dx, Tensor? dg, Tensor? db)
        => Time("batchnorm bwd", () => inner.BatchNormBackward(x, dy, g, sm, si, dx, dg, db));
    public void BatchNormReluTraining(Tensor x, Tensor? g, Tensor? b, Tensor? rm, Tensor? rv, double m, double e, Tensor y, Tensor sm, Tensor si)
        => Time("batchnorm+relu fwd", () => inner.BatchNormReluTraining(x, g, b, rm, rv, m, e, y, sm, si));
    public void BatchNormReluBackward(Tensor x, Tensor y, Tensor dy, Tensor? g, Tensor sm, Tensor si, Tensor dx, Tensor? dg, Tensor? db)
        => Time("batchnorm+relu bwd", () => inner.BatchNormReluBackward(x, y, dy, g, sm, si, dx, dg, db));
    public void MaxPool2dForward(in Pool2dGeometry g, Tensor x, Tensor y, Tensor a) { var h = g; Time("maxpool fwd", () => inner.MaxPool2dForward(h, x, y, a)); }
    public void MaxPool2dBackward(in Pool2dGeometry g, Tensor dy, Tensor a, Tensor dx) { var h = g; Time("maxpool bwd", () => inner.MaxPool2dBackward(h, dy, a, dx)); }
    public void Unary(UnaryOp op, Tensor x, Tensor y, double alpha = 0) => Time($"unary {op}", () => inner.Unary(op, x, y, alpha));
    public void Binary(BinaryOp op, Tensor a, Tensor b, Tensor y, double alpha = 0) => Time($"binary {op}", () => inner.Binary(op, a, b, y, alpha));
    public void Axpy(double alpha, Tensor x, Tensor y) => Time("axpy", () => inner.Axpy(alpha, x, y));
    public void AddChannelVector(Tensor x, Tensor v, int o, int c, int i, double a, Tensor y) => Time("add channel vector", () => inner.AddChannelVector(x, v, o, c, i, a, y));
    public void ChannelSum(Tensor x, int o, int c, int i, double a, Tensor y) => Time("channel sum", () => inner.ChannelSum(x, o, c, i, a, y));
    public void ReduceSum(Tensor x, int o, int m, int i, double a, Tensor y) => Time("reduce sum", () => inner.ReduceSum(x, o, m, i, a, y));
    public void Broadcast(Tensor x, int o, int m, int i, double a, Tensor y) => Time("broadcast", () => inner.Broadcast(x, o, m, i, a, y));
    public void SumOfSquares(Tensor x, Tensor r) => Time("sum of squares", () => inner.SumOfSquares(x, r));
    public void SoftmaxCrossEntropy(Tensor l, Tensor lab, Tensor p, Tensor m) => Time("cross entropy", () => inner.SoftmaxCrossEntropy(l, lab, p, m));
    public void SoftmaxCrossEntropyBackward(Tensor p, Tensor lab, double s, Tensor d) => Time("cross entropy bwd", () => inner.SoftmaxCrossEntropyBackward(p, lab, s, d));
    public void SgdUpdate(Tensor w, Tensor g, Tensor m, double lr, double wd, double mom) => Time("sgd", () => inner.SgdUpdate(w, g, m, lr, wd, mom));
    public void LarsUpdate(Tensor w, Tensor g, Tensor m, double lr, double wd, double mom, double eta, bool adapt) => Time("lars", () => inner.LarsUpdate(w, g, m, lr, wd, mom, eta, adapt));
}
