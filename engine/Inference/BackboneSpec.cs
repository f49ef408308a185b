using Vicreg.Engine.IO;
using Vicreg.Engine.Models;

namespace Vicreg.Engine.Inference;

/// <summary>
/// What a backbone file holds weights for: the architecture (resnet18, resnet34, resnet50, resnet101), the stem, the
/// width multiplier (resnet50x2: 2) and the input channels; and under which prefix the file names them
/// (<see cref="StateDictFile.AutoPrefix"/> recognizes torchvision's bare names, DistributedDataParallel's "module.",
/// VICReg's "backbone." and "module.backbone.", and our pretraining checkpoint's "model.backbone."). The defaults are
/// the official VICReg release's: a ResNet-50 with the ImageNet stem on RGB images.
/// </summary>
public sealed record BackboneSpec(
    string Arch = "resnet50",
    ResNetStem Stem = ResNetStem.Imagenet,
    double Width = 1,
    int InChannels = 3,
    string WeightsPrefix = StateDictFile.AutoPrefix)
{
    /// <summary>The size of the representation the backbone computes (2048 × width for a ResNet-50).
    /// An <see cref="ArgumentException"/> naming the valid choices for an unknown architecture.</summary>
    public int RepresentationSize => Backbones.RepresentationSize(Arch, Width);

    /// <summary>The flags of `vicreg embed` that give this spec, for messages.</summary>
    public override string ToString() => $"--arch {Arch} --stem {Stem.Name()} --width {Width} --in-channels {InChannels}";
}
