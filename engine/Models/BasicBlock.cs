using Vicreg.Engine;
using Vicreg.Engine.Nn;

namespace Vicreg.Engine.Models;

/// <summary>torchvision's BasicBlock (ResNet-18/34): two 3x3 convs, the first carrying the stride, and a
/// 1x1 conv + BN "downsample" on the shortcut when the shape changes. Children are registered in
/// torchvision's order so the state dict's names and order match (conv1, bn1, conv2, bn2, downsample).</summary>
public sealed class BasicBlock : Module, IResidualBlock
{
    /// <summary>Output channels per <c>planes</c> (1: the block outputs planes × 1 channels).</summary>
    public const int Expansion = 1;

    private readonly Conv2d _conv1, _conv2;
    private readonly BatchNorm _bn1, _bn2;
    private readonly Sequential? _downsample;

    /// <summary>A block of two 3x3 convolutions from <paramref name="inChannels"/> to <paramref name="planes"/> × <see cref="Expansion"/>
    /// channels, <paramref name="stride"/> on its 3x3 convolution; weights drawn from <paramref name="rng"/> as torchvision
    /// draws them, in <paramref name="dtype"/> on <paramref name="backend"/> (the default device when null).</summary>
    public BasicBlock(int inChannels, int planes, int stride, ref Rng rng, DType dtype, IBackend? backend)
    {
        _conv1 = RegisterModule("conv1", ResNetLayers.Conv(inChannels, planes, 3, stride, ref rng, dtype, backend));
        _bn1 = RegisterModule("bn1", new BatchNorm(planes, dtype: dtype, backend: backend));
        _conv2 = RegisterModule("conv2", ResNetLayers.Conv(planes, planes, 3, 1, ref rng, dtype, backend));
        _bn2 = RegisterModule("bn2", new BatchNorm(planes, dtype: dtype, backend: backend));
        if (stride != 1 || inChannels != planes * Expansion)
            _downsample = RegisterModule("downsample", ResNetLayers.Downsample(inChannels, planes * Expansion, stride, ref rng, dtype, backend));
    }

    /// <summary>The batch norm ending the residual branch (zeroed by zero_init_residual).</summary>
    public BatchNorm LastNorm => _bn2;

    /// <summary>ReLU(branch(x) + shortcut(x)), [N, C, H, W] to [N, planes × Expansion, H / stride, W / stride].</summary>
    public override Tensor Forward(Tensor x)
    {
        var y = _bn1.ForwardRelu(_conv1.Forward(x));
        y = _bn2.Forward(_conv2.Forward(y));
        var shortcut = _downsample is null ? x : _downsample.Forward(x);
        return Ops.Relu(Ops.Add(y, shortcut));
    }
}
