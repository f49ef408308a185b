namespace Vicreg.Engine.Nn;

/// <summary>Returns its input (a placeholder layer, as nn.Identity).</summary>
public sealed class Identity : Module
{
    public override Tensor Forward(Tensor x) => x;
}
