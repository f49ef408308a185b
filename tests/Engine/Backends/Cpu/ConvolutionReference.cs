
namespace Vicreg.Tests.Engine.Backends.Cpu;

/// <summary>Direct-loop convolutions in double (cross-correlation, NCHW / OIHW, zero padding), each result
/// with the sum of its terms' magnitudes and its term count for the rounding bound.</summary>
internal static class ConvolutionReference
{
    public readonly record struct Result(double[] Value, double[] Magnitude, int Terms);

    private static bool Tap(in Conv2dGeometry g, int oh, int ow, int kh, int kw, out int ih, out int iw)
    {
        ih = oh * g.StrideHeight - g.PadHeight + kh;
        iw = ow * g.StrideWidth - g.PadWidth + kw;
        return ih >= 0 && ih < g.InHeight && iw >= 0 && iw < g.InWidth;
    }

    private static int X(in Conv2dGeometry g, int n, int c, int h, int w) => ((n * g.InChannels + c) * g.InHeight + h) * g.InWidth + w;
    private static int Y(in Conv2dGeometry g, int n, int k, int h, int w) => ((n * g.OutChannels + k) * g.OutHeight + h) * g.OutWidth + w;
    private static int W(in Conv2dGeometry g, int k, int c, int h, int w) => ((k * g.InChannels + c) * g.KernelHeight + h) * g.KernelWidth + w;

    /// <summary>Visits every (input, weight, output) index triple that one multiply-add of the convolution touches.</summary>
    private static void ForEachTerm(in Conv2dGeometry g, Action<int, int, int> visit)
    {
        for (int n = 0; n < g.Batch; n++)
            for (int k = 0; k < g.OutChannels; k++)
                for (int oh = 0; oh < g.OutHeight; oh++)
                    for (int ow = 0; ow < g.OutWidth; ow++)
                        for (int c = 0; c < g.InChannels; c++)
                            for (int kh = 0; kh < g.KernelHeight; kh++)
                                for (int kw = 0; kw < g.KernelWidth; kw++)
                                    if (Tap(g, oh, ow, kh, kw, out int ih, out int iw))
                                        visit(X(g, n, c, ih, iw), W(g, k, c, kh, kw), Y(g, n, k, oh, ow));
    }

    public static Result Forward(Conv2dGeometry g, double[] x, double[] w)
    {
        var y = new double[g.OutputShape.Numel];
        var mag = new double[y.Length];
        ForEachTerm(g, (xi, wi, yi) => { y[yi] += x[xi] * w[wi]; mag[yi] += Math.Abs(x[xi] * w[wi]); });
        return new Result(y, mag, g.InChannels * g.KernelHeight * g.KernelWidth);
    }

    public static Result BackwardData(Conv2dGeometry g, double[] dy, double[] w)
    {
        var dx = new double[g.InputShape.Numel];
        var mag = new double[dx.Length];
        ForEachTerm(g, (xi, wi, yi) => { dx[xi] += dy[yi] * w[wi]; mag[xi] += Math.Abs(dy[yi] * w[wi]); });
        int taps = (g.KernelHeight + g.StrideHeight - 1) / g.StrideHeight * ((g.KernelWidth + g.StrideWidth - 1) / g.StrideWidth);
        return new Result(dx, mag, g.OutChannels * taps);
    }

    public static Result BackwardFilter(Conv2dGeometry g, double[] x, double[] dy)
    {
        var dw = new double[g.WeightShape.Numel];
        var mag = new double[dw.Length];
        ForEachTerm(g, (xi, wi, yi) => { dw[wi] += x[xi] * dy[yi]; mag[wi] += Math.Abs(x[xi] * dy[yi]); });
        return new Result(dw, mag, g.Batch * g.OutHeight * g.OutWidth);
    }
}
