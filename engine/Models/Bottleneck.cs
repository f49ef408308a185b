using Vicreg.Engine;
using Vicreg.Engine.Nn;

namespace Vicreg.Engine.Models;

/// <summary>torchvision's Bottleneck (ResNet-50/101, "ResNet v1.5": the stride sits on the 3x3 conv):
/// 1x1 reduce, 3x3, 1x1 expand by 4, with a 1x1 conv + BN shortcut when the shape changes.
/// Registered as torchvision: conv1, bn1, conv2, bn2, conv3, bn3, downsample.</summary>
public sealed class Bottleneck : Module, IResidualBlock
{
    /// <summary>Output channels per <c>planes</c> (4: the block outputs planes × 4 channels).</summary>
    public const int Expansion = 4;

    private readonly Conv2d _conv1, _conv2, _conv3;
    private readonly BatchNorm _bn1, _bn2, _bn3;
    private readonly Sequential? _downsample;

    /// <summary>A block of 1x1, 3x3 and 1x1 convolutions from <paramref name="inChannels"/> to <paramref name="planes"/> × <see cref="Expansion"/>
    /// channels, <paramref name="stride"/> on its 3x3 convolution; weights drawn from <paramref name="rng"/> as torchvision
    /// draws them, in <paramref name="dtype"/> on <paramref name="backend"/> (the default device when null).</summary>
    public Bottleneck(int inChannels, int planes, int stride, ref Rng rng, DType dtype, IBackend? backend)
    {
        _conv1 = RegisterModule("conv1", ResNetLayers.Conv(inChannels, planes, 1, 1, ref rng, dtype, backend));
        _bn1 = RegisterModule("bn1", new BatchNorm(planes, dtype: dtype, backend: backend));
        _conv2 = RegisterModule("conv2", ResNetLayers.Conv(planes, planes, 3, stride, ref rng, dtype, backend));
        _bn2 = RegisterModule("bn2", new BatchNorm(planes, dtype: dtype, backend: backend));
        _conv3 = RegisterModule("conv3", ResNetLayers.Conv(planes, planes * Expansion, 1, 1, ref rng, dtype, backend));
        _bn3 = RegisterModule("bn3", new BatchNorm(planes * Expansion, dtype: dtype, backend: backend));
        if (stride != 1 || inChannels != planes * Expansion)
            _downsample = RegisterModule("downsample", ResNetLayers.Downsample(inChannels, planes * Expansion, stride, ref rng, dtype, backend));
    }

    /// <summary>The batch norm ending the residual branch (zeroed by zero_init_residual).</summary>
    public BatchNorm LastNorm => _bn3;

    /// <summary>ReLU(branch(x) + shortcut(x)), [N, C, H, W] to [N, planes × Expansion, H / stride, W / stride].</summary>
    public override Tensor Forward(Tensor x)
    {
        var y = _bn1.ForwardRelu(_conv1.Forward(x));
        y = _bn2.ForwardRelu(_conv2.Forward(y));
        y = _bn3.Forward(_conv3.Forward(y));
        var shortcut = _downsample is null ? x : _downsample.Forward(x);
        return Ops.Relu(Ops.Add(y, shortcut));
    }
}
