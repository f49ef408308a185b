namespace Vicreg.Engine.Nn;

/// <summary>Mean over H and W, flattened to [N, C] (torchvision's avgpool followed by flatten).</summary>
public sealed class GlobalAvgPool : Module
{
    /// <summary>The mean over H and W: [N, C, H, W] to [N, C].</summary>
    public override Tensor Forward(Tensor x) => Ops.GlobalAvgPool(x);
}
