namespace Vicreg.Engine.Nn;

/// <summary>Returns its input (a placeholder layer, as nn.Identity).</summary>
public sealed class Identity : Module
{
    /// <summary><paramref name="x"/> itself.</summary>
    public override Tensor Forward(Tensor x) => x;
}
