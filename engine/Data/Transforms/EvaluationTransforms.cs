namespace Vicreg.Engine.Data.Transforms;

/// <summary>
/// The deterministic transforms a trained model sees its images through (no randomness is drawn), as torchvision's
/// evaluation recipes: photographs are resized and centre-cropped, small-image data sets taken at their own size;
/// then ToTensor and the data set's Normalize.
/// </summary>
public static class EvaluationTransforms
{
    /// <summary>Photographs (ImageNet's linear evaluation): Resize(256/224 × <paramref name="imageSize"/>, shorter
    /// side, bilinear as the official evaluate.py), CenterCrop(<paramref name="imageSize"/>), then the normalization (ImageNet's unless given).</summary>
    public static IImageTransform Photographs(int imageSize = 224, DatasetNormalization? norm = null)
    {
        var n = norm ?? DatasetNormalization.ImageNet;
        return new AugmentationPipeline(new AugmentationSpec
        {
            Size = imageSize,
            Channels = n.Channels,
            Geometry = GeometryKind.ResizeCentreCrop,
            Interpolation = ResampleFilter.Bilinear,
            ResizeShorter = (int)Math.Round(256.0 * imageSize / 224.0),
            Mean = n.Mean,
            Std = n.Std,
        });
    }

    /// <summary>Image files for a small-image model (28×28 Fashion-MNIST, 32×32 CIFAR): the data set's normalization on
    /// an image of its size (<paramref name="size"/>; the resize is then the identity); an image of another size is
    /// first resized (shorter side, bilinear) and centre-cropped to it.</summary>
    public static IImageTransform SmallImages(int size, DatasetNormalization norm) => new AugmentationPipeline(new AugmentationSpec
    {
        Size = size,
        Channels = norm.Channels,
        Geometry = GeometryKind.ResizeCentreCrop,
        Interpolation = ResampleFilter.Bilinear,
        ResizeShorter = size,
        Mean = norm.Mean,
        Std = norm.Std,
    });
}
