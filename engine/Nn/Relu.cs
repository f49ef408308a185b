namespace Vicreg.Engine.Nn;

/// <summary>max(x, 0), as nn.ReLU.</summary>
public sealed class Relu : Module
{
    /// <summary>max(x, 0), elementwise.</summary>
    public override Tensor Forward(Tensor x) => Ops.Relu(x);
}
