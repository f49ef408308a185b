using Vicreg.Engine;
using Vicreg.Engine.Nn;

namespace Vicreg.Engine.Models;

/// <summary>
/// torchvision's ResNet without its classifier: the forward returns the pooled representation
/// [N, 512·width] (BasicBlock) or [N, 2048·width] (Bottleneck). Parameter and buffer names and their
/// order are torchvision's (conv1, bn1, layer1.0.conv1, ..., layer4.1.bn2), so a torchvision state dict
/// without fc.* loads with no renaming. The width multiplier scales every stage's channels as the
/// official VICReg resnet.py does (resnet50x2: 128 stem channels, 4096-d representation); a fraction
/// narrows it (width 0.25: 16 stem channels, a 128-d ResNet-18 representation) for small data on a CPU.
/// </summary>
public sealed class ResNet : Module
{
    private readonly Conv2d _conv1;
    private readonly BatchNorm _bn1;
    private readonly MaxPool2d? _maxpool;
    private readonly Sequential[] _stages;

    /// <summary>The architecture's name (resnet18, resnet34, resnet50, resnet101).</summary>
    public string Arch { get; }
    /// <summary>Its first layers: ImageNet's or the small-image one.</summary>
    public ResNetStem Stem { get; }
    /// <summary>The width multiplier of every stage's channels (1: torchvision's ResNet).</summary>
    public double Width { get; }
    /// <summary>The channels of the images it takes (3 for RGB).</summary>
    public int InChannels { get; }
    /// <summary>Size of the representation the forward returns.</summary>
    public int RepresentationSize { get; }

    internal ResNet(string arch, bool bottleneck, ReadOnlySpan<int> blocksPerStage, ResNetStem stem, double width, int inChannels,
        bool zeroInitResidual, ref Rng rng, DType dtype, IBackend? backend)
    {
        int stemChannels = (int)Math.Round(64 * width);
        if (stemChannels < 1 || width > 64) throw new ArgumentException($"ResNet width multiplier must give 1 to 4096 stem channels, got {width}");
        if (inChannels < 1) throw new ArgumentException($"ResNet input channels must be at least 1, got {inChannels}");
        Arch = arch;
        Stem = stem;
        Width = width;
        InChannels = inChannels;
        _conv1 = RegisterModule("conv1", stem == ResNetStem.Imagenet
            ? ResNetLayers.Conv(inChannels, stemChannels, 7, 2, ref rng, dtype, backend)
            : ResNetLayers.Conv(inChannels, stemChannels, 3, 1, ref rng, dtype, backend));
        _bn1 = RegisterModule("bn1", new BatchNorm(stemChannels, dtype: dtype, backend: backend));
        if (stem == ResNetStem.Imagenet) _maxpool = RegisterModule("maxpool", new MaxPool2d(3, 2, 1));

        int expansion = bottleneck ? Bottleneck.Expansion : BasicBlock.Expansion;
        int channels = stemChannels;
        _stages = new Sequential[blocksPerStage.Length];
        for (int s = 0; s < blocksPerStage.Length; s++)
        {
            int planes = stemChannels << s;
            var stage = new Sequential();
            for (int b = 0; b < blocksPerStage[s]; b++)
            {
                int stride = s > 0 && b == 0 ? 2 : 1;
                stage.Add(bottleneck
                    ? new Bottleneck(channels, planes, stride, ref rng, dtype, backend)
                    : new BasicBlock(channels, planes, stride, ref rng, dtype, backend));
                channels = planes * expansion;
            }
            _stages[s] = RegisterModule($"layer{s + 1}", stage);
        }
        RepresentationSize = channels;

        // Zero the last BN gamma of every residual branch so each block starts as the identity
        // (torchvision's zero_init_residual, which the official VICReg backbone turns on).
        if (zeroInitResidual)
            foreach (var stage in _stages)
                for (int b = 0; b < stage.Count; b++)
                    if (((IResidualBlock)stage[b]).LastNorm.Weight is { } gamma) gamma.Backend.Fill(gamma, 0);
    }

    /// <summary>The pooled representation [N, <see cref="RepresentationSize"/>] of images [N, <see cref="InChannels"/>, H, W];
    /// a <see cref="ShapeMismatchException"/> for another shape. Evaluation mode (<see cref="Module.Eval"/>) uses the batch norms' running statistics.</summary>
    public override Tensor Forward(Tensor x)
    {
        if (x.Rank != 4 || x.Shape[1] != InChannels)
            throw new ShapeMismatchException($"{Arch}: input must be [N, {InChannels}, H, W], got {x.Shape}");
        var y = _bn1.ForwardRelu(_conv1.Forward(x));
        if (_maxpool is not null) y = _maxpool.Forward(y);
        foreach (var stage in _stages) y = stage.Forward(y);
        return Ops.GlobalAvgPool(y);
    }
}
