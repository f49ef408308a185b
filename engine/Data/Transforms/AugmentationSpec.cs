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
    /// <summary>Side of the square output, in pixels (224 for ImageNet views).</summary>
    public int Size { get; init; } = 224;
    /// <summary>Output channels: 3, or 1 for grayscale datasets.</summary>
    public int Channels { get; init; } = 3;

    /// <summary>The geometric first stage (crop/resize); see <see cref="GeometryKind"/>.</summary>
    public GeometryKind Geometry { get; init; } = GeometryKind.RandomResizedCrop;
    /// <summary>RandomResizedCrop: least crop area, as a fraction of the source image's area.</summary>
    public double ScaleMin { get; init; } = 0.08;
    /// <summary>RandomResizedCrop: largest crop area, as a fraction of the source image's area.</summary>
    public double ScaleMax { get; init; } = 1.0;
    /// <summary>RandomResizedCrop: least aspect ratio (width / height) of the crop, drawn log-uniformly.</summary>
    public double RatioMin { get; init; } = 3.0 / 4.0;
    /// <summary>RandomResizedCrop: largest aspect ratio (width / height) of the crop.</summary>
    public double RatioMax { get; init; } = 4.0 / 3.0;
    /// <summary>For ResizeCentreCrop: the shorter side before the crop (256 for 224).</summary>
    public int ResizeShorter { get; init; } = 256;
    /// <summary>The resampling filter of RandomResizedCrop and Resize: bicubic for the official pretraining views,
    /// bilinear (torchvision's default) for the official evaluation transforms.</summary>
    public ResampleFilter Interpolation { get; init; } = ResampleFilter.Bicubic;
    /// <summary>For RandomCropPadded.</summary>
    public int Padding { get; init; } = 4;

    /// <summary>Probability of a horizontal flip.</summary>
    public double FlipP { get; init; }

    /// <summary>Probability of applying ColorJitter (its four adjustments, in random order).</summary>
    public double JitterP { get; init; }
    /// <summary>ColorJitter brightness strength: factor uniform in [max(0, 1 - b), 1 + b]; 0 skips it.</summary>
    public double Brightness { get; init; }
    /// <summary>ColorJitter contrast strength: factor uniform in [max(0, 1 - c), 1 + c]; 0 skips it.</summary>
    public double Contrast { get; init; }
    /// <summary>ColorJitter saturation strength: factor uniform in [max(0, 1 - s), 1 + s]; 0 skips it.</summary>
    public double Saturation { get; init; }
    /// <summary>ColorJitter hue shift, uniform in [-h, h] of a full hue turn; 0 skips it.</summary>
    public double Hue { get; init; }

    /// <summary>Probability of RandomGrayscale (the output keeps its channel count).</summary>
    public double GrayscaleP { get; init; }

    /// <summary>Probability of the Gaussian blur.</summary>
    public double BlurP { get; init; }
    /// <summary>Least blur sigma, in output pixels.</summary>
    public double BlurSigmaMin { get; init; } = 0.1;
    /// <summary>Largest blur sigma, in output pixels.</summary>
    public double BlurSigmaMax { get; init; } = 2.0;

    /// <summary>Probability of solarization.</summary>
    public double SolarizeP { get; init; }
    /// <summary>Solarize inverts every byte value at or above this (v becomes 255 - v), as PIL.</summary>
    public int SolarizeThreshold { get; init; } = 128;

    /// <summary>Per-channel mean subtracted after scaling bytes to [0, 1] (ImageNet's by default); one value per channel.</summary>
    public float[] Mean { get; init; } = [0.485f, 0.456f, 0.406f];
    /// <summary>Per-channel standard deviation divided by after the mean (ImageNet's by default); one value per channel.</summary>
    public float[] Std { get; init; } = [0.229f, 0.224f, 0.225f];

    /// <summary>Let the JPEG decoder down-scale by DCT when the crop is large. Off = exact PIL parity.</summary>
    public bool AllowDecodeScaling { get; init; } = true;
}
