namespace Vicreg.Engine.Nn;

/// <summary>PyTorch's nn.Conv2d with a square kernel, one stride and one padding for both axes.</summary>
public sealed class Conv2d : Module
{
    /// <summary>The kernels [out, in, k, k].</summary>
    public Tensor Weight { get; }
    /// <summary>The bias per output channel, or null.</summary>
    public Tensor? Bias { get; }
    /// <summary>The stride along both axes.</summary>
    public int Stride { get; }
    /// <summary>The zero padding on every side.</summary>
    public int Padding { get; }

    /// <summary>A convolution from <paramref name="inChannels"/> to <paramref name="outChannels"/> channels, initialized as PyTorch's from <paramref name="rng"/>.</summary>
    public Conv2d(int inChannels, int outChannels, int kernel, int stride, int padding, bool bias, ref Rng rng,
        DType dtype = DType.Float32, IBackend? backend = null)
    {
        Stride = stride;
        Padding = padding;
        Weight = RegisterParameter("weight", Tensor.Empty(new Shape(outChannels, inChannels, kernel, kernel), dtype, backend));
        Init.DefaultWeight(Weight, ref rng);
        if (bias)
        {
            Bias = RegisterParameter("bias", Tensor.Empty(new Shape(outChannels), dtype, backend));
            Init.DefaultBias(Bias, Init.FanIn(Weight), ref rng);
        }
    }

    /// <summary>[N, in, H, W] to [N, out, H', W'].</summary>
    public override Tensor Forward(Tensor x) => Ops.Conv2d(x, Weight, Bias, Stride, Padding);
}
