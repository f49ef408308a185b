namespace Vicreg.Engine.Data.Transforms;

/// <summary>
/// Pillow's resampling filters that torchvision's transforms use: the official VICReg pretraining crops
/// bicubically, while its evaluation (evaluate.py) keeps torchvision's default, bilinear.
/// </summary>
public enum ResampleFilter
{
    /// <summary>Keys' cubic with a = -0.5, support 2 (Image.BICUBIC).</summary>
    Bicubic,
    /// <summary>The triangle filter, support 1 (Image.BILINEAR, torchvision's default).</summary>
    Bilinear,
}
