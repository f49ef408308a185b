namespace Vicreg.Engine.Nn;

/// <summary>nn.MaxPool2d with a square window.</summary>
public sealed class MaxPool2d(int kernel, int stride, int padding) : Module
{
    public override Tensor Forward(Tensor x) => Ops.MaxPool2d(x, kernel, stride, padding);
}
