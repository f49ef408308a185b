namespace Vicreg.Engine.Nn;

/// <summary>y = x wᵀ + b (PyTorch's nn.Linear, same initialization).</summary>
public sealed class Linear : Module
{
    /// <summary>The weight [out, in].</summary>
    public Tensor Weight { get; }
    /// <summary>The bias [out], or null.</summary>
    public Tensor? Bias { get; }

    /// <summary>A layer from <paramref name="inFeatures"/> to <paramref name="outFeatures"/>, initialized as PyTorch's from <paramref name="rng"/>.</summary>
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

    /// <summary>[N, in] to [N, out].</summary>
    public override Tensor Forward(Tensor x) => Ops.Linear(x, Weight, Bias);
}
