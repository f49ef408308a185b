namespace Vicreg.Engine.Data.Transforms;

/// <summary>How the first, geometric stage maps a decoded image onto the output grid.</summary>
public enum GeometryKind
{
    /// <summary>torchvision RandomResizedCrop(size, scale, ratio), resampled with <see cref="AugmentationSpec.Interpolation"/>.</summary>
    RandomResizedCrop,
    /// <summary>Resize(shorter side = ResizeShorter, <see cref="AugmentationSpec.Interpolation"/>) then CenterCrop(size): evaluation.</summary>
    ResizeCentreCrop,
    /// <summary>RandomCrop(size, padding = Padding, zero fill): small-image linear evaluation.</summary>
    RandomCropPadded,
    /// <summary>The image is already the output size (e.g. CIFAR evaluation).</summary>
    None,
}

/// <summary>
/// A torchvision-style augmentation chain, in torchvision's order: geometry, horizontal flip,
/// ColorJitter (with probability JitterP; the four adjustments in random order), RandomGrayscale,
/// Gaussian blur (PIL's, sigma uniform in [BlurSigmaMin, BlurSigmaMax]), solarize, then ToTensor and
/// Normalize. All probabilities are per sample.
/// </summary>
public sealed record AugmentationSpec
{
    public int Size { get; init; } = 224;
    /// <summary>Output channels: 3, or 1 for grayscale datasets.</summary>
    public int Channels { get; init; } = 3;

    public GeometryKind Geometry { get; init; } = GeometryKind.RandomResizedCrop;
    public double ScaleMin { get; init; } = 0.08;
    public double ScaleMax { get; init; } = 1.0;
    public double RatioMin { get; init; } = 3.0 / 4.0;
    public double RatioMax { get; init; } = 4.0 / 3.0;
    /// <summary>For ResizeCentreCrop: the shorter side before the crop (256 for 224).</summary>
    public int ResizeShorter { get; init; } = 256;
    /// <summary>The resampling filter of RandomResizedCrop and Resize: bicubic for the official pretraining views,
    /// bilinear (torchvision's default) for the official evaluation transforms.</summary>
    public ResampleFilter Interpolation { get; init; } = ResampleFilter.Bicubic;
    /// <summary>For RandomCropPadded.</summary>
    public int Padding { get; init; } = 4;

    public double FlipP { get; init; }

    public double JitterP { get; init; }
    public double Brightness { get; init; }
    public double Contrast { get; init; }
    public double Saturation { get; init; }
    public double Hue { get; init; }

    public double GrayscaleP { get; init; }

    public double BlurP { get; init; }
    public double BlurSigmaMin { get; init; } = 0.1;
    public double BlurSigmaMax { get; init; } = 2.0;

    public double SolarizeP { get; init; }
    public int SolarizeThreshold { get; init; } = 128;

    public float[] Mean { get; init; } = [0.485f, 0.456f, 0.406f];
    public float[] Std { get; init; } = [0.229f, 0.224f, 0.225f];

    /// <summary>Let the JPEG decoder down-scale by DCT when the crop is large. Off = exact PIL parity.</summary>
    public bool AllowDecodeScaling { get; init; } = true;
}
