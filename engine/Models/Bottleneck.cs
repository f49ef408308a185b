using Vicreg.Engine;
using Vicreg.Engine.Nn;

namespace Vicreg.Engine.Models;

/// <summary>torchvision's Bottleneck (ResNet-50/101, "ResNet v1.5": the stride sits on the 3x3 conv):
/// 1x1 reduce, 3x3, 1x1 expand by 4, with a 1x1 conv + BN shortcut when the shape changes.
/// Registered as torchvision: conv1, bn1, conv2, bn2, conv3, bn3, downsample.</summary>
public sealed class Bottleneck : Module, IResidualBlock
{
    public const int Expansion = 4;

    private readonly Conv2d _conv1, _conv2, _conv3;
    private readonly BatchNorm _bn1, _bn2, _bn3;
    private readonly Sequential? _downsample;

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

    public BatchNorm LastNorm => _bn3;

    public override Tensor Forward(Tensor x)
    {
        var y = Ops.Relu(_bn1.Forward(_conv1.Forward(x)));
        y = Ops.Relu(_bn2.Forward(_conv2.Forward(y)));
        y = _bn3.Forward(_conv3.Forward(y));
        var shortcut = _downsample is null ? x : _downsample.Forward(x);
        return Ops.Relu(Ops.Add(y, shortcut));
    }
}
