namespace Vicreg.Engine;

public static partial class Ops
{
    /// <summary>GELU in its tanh approximation, as torch.nn.functional.gelu(x, approximate="tanh"):
    /// 0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³))). A composite: its backward comes from its parts; inside
    /// ElementwiseComposite.PreferFused() the fused Gelu/GeluBackward kernels run instead (one pass each way).</summary>
    public static Tensor Gelu(Tensor x) => GeluComposite.Invoke(x);

    /// <summary>GELU as a composite, with its fused kernels.</summary>
    public static ElementwiseComposite GeluComposite { get; } = new("gelu", x =>
    {
        var inner = Scale(Add(x, Scale(Pow(x, 3), 0.044715)), Math.Sqrt(2 / Math.PI));
        return Mul(Scale(x, 0.5), AddScalar(Tanh(inner), 1));
    }, fused: (UnaryOp.Gelu, BinaryOp.GeluBackward));
}
