namespace Vicreg.Engine.Nn;

/// <summary>Mean over H and W, flattened to [N, C] (torchvision's avgpool followed by flatten).</summary>
public sealed class GlobalAvgPool : Module
{
    public override Tensor Forward(Tensor x) => Ops.GlobalAvgPool(x);
}
