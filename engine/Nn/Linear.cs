namespace Vicreg.Engine.Nn;

/// <summary>y = x wᵀ + b (PyTorch's nn.Linear, same initialization).</summary>
public sealed class Linear : Module
{
    public Tensor Weight { get; }
    public Tensor? Bias { get; }

    public Linear(int inFeatures, int outFeatures, bool bias, ref Rng rng, DType dtype = DType.Float32, IBackend? backend = null)
    {
        Weight = RegisterParameter("weight", Tensor.Empty(new Shape(outFeatures, inFeatures), dtype, backend));
        Init.DefaultWeight(Weight, ref rng);
        if (bias)
        {
            Bias = RegisterParameter("bias", Tensor.Empty(new Shape(outFeatures), dtype, backend));
            Init.DefaultBias(Bias, inFeatures, ref rng);
        }
    }

    public override Tensor Forward(Tensor x) => Ops.Linear(x, Weight, Bias);
}
