using Vicreg.Engine;
using Vicreg.Engine.Backends.Cpu;

namespace Vicreg.Tests.Engine.Backends.Cpu;

/// <summary>
/// Random input, weights and output gradient of one convolution in element type <typeparamref name="T"/>,
/// with their values as doubles rounded to T (so a reference computes on exactly what the kernel sees),
/// and the three outputs pre-filled with NaN: every kernel must overwrite, never accumulate into, its output.
/// </summary>
internal sealed class ConvolutionCase<T> : IDisposable where T : unmanaged
{
    public ConvolutionCase(Conv2dGeometry g, ulong seed)
    {
        var backend = CpuBackend.Instance;
        XValues = Rounded((int)g.InputShape.Numel, seed);
        WValues = Rounded((int)g.WeightShape.Numel, seed + 1);
        DyValues = Rounded((int)g.OutputShape.Numel, seed + 2);
        X = Tensor.FromArray<T>(TestData.Convert<T>(XValues), g.InputShape, backend);
        W = Tensor.FromArray<T>(TestData.Convert<T>(WValues), g.WeightShape, backend);
        Dy = Tensor.FromArray<T>(TestData.Convert<T>(DyValues), g.OutputShape, backend);
        Y = Tensor.Full(g.OutputShape, double.NaN, Tensor.DTypeOf<T>(), backend);
        Dx = Tensor.Full(g.InputShape, double.NaN, Tensor.DTypeOf<T>(), backend);
        Dw = Tensor.Full(g.WeightShape, double.NaN, Tensor.DTypeOf<T>(), backend);
    }

    public double[] XValues { get; }
    public double[] WValues { get; }
    public double[] DyValues { get; }
    public Tensor X { get; }
    public Tensor W { get; }
    public Tensor Dy { get; }
    public Tensor Y { get; }
    public Tensor Dx { get; }
    public Tensor Dw { get; }

    private static double[] Rounded(int n, ulong seed) => TestData.ToDouble(TestData.Convert<T>(TestData.Uniform(n, seed)));

    public void Dispose()
    {
        foreach (var t in new[] { X, W, Dy, Y, Dx, Dw }) t.Dispose();
    }
}
