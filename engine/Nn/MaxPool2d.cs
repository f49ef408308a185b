namespace Vicreg.Engine.Nn;

/// <summary>nn.MaxPool2d with a square window.</summary>
public sealed class MaxPool2d(int kernel, int stride, int padding) : Module
{
    /// <summary>The maximum over each window: [N, C, H, W] to [N, C, H', W'].</summary>
    public override Tensor Forward(Tensor x) => Ops.MaxPool2d(x, kernel, stride, padding);
}
