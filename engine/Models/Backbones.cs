using Vicreg.Engine;

namespace Vicreg.Engine.Models;

/// <summary>Builds a backbone by name, as the official code's --arch flag names them.</summary>
public static class Backbones
{
    /// <summary>The architectures <see cref="Create"/> builds: resnet18, resnet34, resnet50, resnet101.</summary>
    public static readonly string[] Architectures = ["resnet18", "resnet34", "resnet50", "resnet101"];

    /// <summary>A ResNet with torchvision's initialization and zero_init_residual (as VICReg's backbone).
    /// Throws <see cref="ArgumentException"/> naming the valid choices for an unknown arch.</summary>
    public static ResNet Create(string arch, ResNetStem stem, double width, int inChannels, ref Rng rng,
        bool zeroInitResidual = true, DType dtype = DType.Float32, IBackend? backend = null) => arch switch
    {
        "resnet18" => new ResNet(arch, false, [2, 2, 2, 2], stem, width, inChannels, zeroInitResidual, ref rng, dtype, backend),
        "resnet34" => new ResNet(arch, false, [3, 4, 6, 3], stem, width, inChannels, zeroInitResidual, ref rng, dtype, backend),
        "resnet50" => new ResNet(arch, true, [3, 4, 6, 3], stem, width, inChannels, zeroInitResidual, ref rng, dtype, backend),
        "resnet101" => new ResNet(arch, true, [3, 4, 23, 3], stem, width, inChannels, zeroInitResidual, ref rng, dtype, backend),
        _ => throw new ArgumentException($"unknown arch '{arch}' ({string.Join(", ", Architectures)})"),
    };

    /// <summary>The representation size of an architecture without building it (512 or 2048, times the width).</summary>
    public static int RepresentationSize(string arch, double width) => arch switch
    {
        "resnet18" or "resnet34" => 8 * (int)Math.Round(64 * width),
        "resnet50" or "resnet101" => 32 * (int)Math.Round(64 * width),
        _ => throw new ArgumentException($"unknown arch '{arch}' ({string.Join(", ", Architectures)})"),
    };
}
