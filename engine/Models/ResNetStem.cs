namespace Vicreg.Engine.Models;

/// <summary>The first layers of a ResNet. ImageNet: 7x7 stride-2 conv, BN, ReLU, 3x3 stride-2 max-pool
/// (torchvision). Cifar: 3x3 stride-1 conv with padding 1, BN, ReLU and no max-pool, the usual choice for
/// 32x32 images (CIFAR, Fashion-MNIST), which would otherwise shrink to 1x1 far too early.</summary>
public enum ResNetStem
{
    /// <summary>torchvision's: 7x7 stride-2 convolution, batch norm, ReLU, 3x3 stride-2 max-pool.</summary>
    Imagenet,
    /// <summary>For 28x28 and 32x32 images: 3x3 stride-1 convolution, batch norm, ReLU, no max-pool.</summary>
    Cifar,
}

/// <summary>The stems' names on the command line: "imagenet" and "cifar".</summary>
public static class ResNetStems
{
    /// <summary>The stem named <paramref name="name"/>; an <see cref="ArgumentException"/> naming the two choices otherwise.</summary>
    public static ResNetStem Parse(string name) => name switch
    {
        "imagenet" => ResNetStem.Imagenet,
        "cifar" => ResNetStem.Cifar,
        _ => throw new ArgumentException($"unknown stem '{name}' (imagenet or cifar)"),
    };

    /// <summary>The stem's name, as <see cref="Parse"/> reads it.</summary>
    public static string Name(this ResNetStem stem) => stem == ResNetStem.Imagenet ? "imagenet" : "cifar";
}
