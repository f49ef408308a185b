namespace Vicreg.Engine.Nn;

/// <summary>PyTorch's nn.Conv2d with a square kernel, one stride and one padding for both axes.</summary>
public sealed class Conv2d : Module
{
    public Tensor Weight { get; }
    public Tensor? Bias { get; }
    public int Stride { get; }
    public int Padding { get; }

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

    public override Tensor Forward(Tensor x) => Ops.Conv2d(x, Weight, Bias, Stride, Padding);
}
