namespace Vicreg.Engine.Models;

/// <summary>The first layers of a ResNet. ImageNet: 7x7 stride-2 conv, BN, ReLU, 3x3 stride-2 max-pool
/// (torchvision). Cifar: 3x3 stride-1 conv with padding 1, BN, ReLU and no max-pool, the usual choice for
/// 32x32 images (CIFAR, Fashion-MNIST), which would otherwise shrink to 1x1 far too early.</summary>
public enum ResNetStem
{
    Imagenet,
    Cifar,
}

public static class ResNetStems
{
    public static ResNetStem Parse(string name) => name switch
    {
        "imagenet" => ResNetStem.Imagenet,
        "cifar" => ResNetStem.Cifar,
        _ => throw new ArgumentException($"unknown stem '{name}' (imagenet or cifar)"),
    };

    public static string Name(this ResNetStem stem) => stem == ResNetStem.Imagenet ? "imagenet" : "cifar";
}
