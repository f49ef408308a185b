using Vicreg.Engine.Data.Transforms;
using Vicreg.Engine.Data;

namespace Vicreg.Augment;

/// <summary>
/// The VICReg augmentation recipes built on the engine's torchvision-equivalent pipeline.
/// <list type="bullet">
/// <item>ImageNet (official facebookresearch/vicreg augmentations.py): RandomResizedCrop(scale 0.08-1,
/// bicubic), flip 0.5, ColorJitter(0.4, 0.4, 0.2, 0.1) with p 0.8, grayscale 0.2; view 1 blur p 1.0 and
/// no solarize, view 2 blur p 0.1 and solarize p 0.2; ImageNet normalization. Blur is PIL's
/// GaussianBlur(radius = sigma), sigma uniform in [0.1, 2].</item>
/// <item>Small images (28x28 Fashion-MNIST/MNIST gray, 32x32 CIFAR RGB): RandomResizedCrop to the input
/// size with scale 0.2-1, flip; brightness/contrast jitter 0.4 for gray (saturation and hue mean nothing
/// on one channel), full jitter + grayscale 0.2 for RGB; no blur (blurring a 32-pixel image destroys it);
/// solarize p 0.2 on view 2 only; the dataset's normalization.</item>
/// <item>Linear evaluation of small images: RandomCrop(size, padding 4, zero fill) + flip, the standard
/// CIFAR classifier recipe (it keeps the whole object, unlike a 0.08-scale crop); evaluation: the image
/// as is. For ImageNet-size images, as the official evaluate.py: RandomResizedCrop(default scale) + flip, bilinear
/// (torchvision's default; only the pretraining views ask for bicubic); their evaluation transform, Resize(256/224 x
/// size) + CenterCrop(size), also bilinear, is the engine's (<see cref="EvaluationTransforms.Photographs"/>).</item>
/// </list>
/// </summary>
public static class VicregAugmentations
{
    private static AugmentationSpec ImageNetCommon(int imageSize) => new()
    {
        Size = imageSize,
        Channels = 3,
        Geometry = GeometryKind.RandomResizedCrop,
        ScaleMin = 0.08,
        ScaleMax = 1.0,
        FlipP = 0.5,
        JitterP = 0.8,
        Brightness = 0.4,
        Contrast = 0.4,
        Saturation = 0.2,
        Hue = 0.1,
        GrayscaleP = 0.2,
        BlurSigmaMin = 0.1,
        BlurSigmaMax = 2.0,
        Mean = DatasetNormalization.ImageNet.Mean,
        Std = DatasetNormalization.ImageNet.Std,
    };

    /// <summary>The official two views (view 1, view 2) for ImageNet-like photographs.</summary>
    public static IImageTransform[] ImageNetTwoViews(int imageSize = 224, bool allowDecodeScaling = true) =>
    [
        new AugmentationPipeline(ImageNetCommon(imageSize) with { BlurP = 1.0, SolarizeP = 0.0, AllowDecodeScaling = allowDecodeScaling }),
        new AugmentationPipeline(ImageNetCommon(imageSize) with { BlurP = 0.1, SolarizeP = 0.2, AllowDecodeScaling = allowDecodeScaling }),
    ];

    /// <summary>Two views for 28x28 gray or 32x32 RGB datasets.</summary>
    public static IImageTransform[] SmallImageTwoViews(int size, DatasetNormalization norm)
    {
        bool rgb = norm.Channels == 3;
        var common = new AugmentationSpec
        {
            Size = size,
            Channels = norm.Channels,
            Geometry = GeometryKind.RandomResizedCrop,
            ScaleMin = 0.2,
            ScaleMax = 1.0,
            FlipP = 0.5,
            JitterP = 0.8,
            Brightness = 0.4,
            Contrast = 0.4,
            Saturation = rgb ? 0.2 : 0,
            Hue = rgb ? 0.1 : 0,
            GrayscaleP = rgb ? 0.2 : 0,
            BlurP = 0,
            Mean = norm.Mean,
            Std = norm.Std,
        };
        return [new AugmentationPipeline(common with { SolarizeP = 0.0 }), new AugmentationPipeline(common with { SolarizeP = 0.2 })];
    }

    /// <summary>The same views with another lower bound on the RandomResizedCrop area (<c>pretrain --crop-scale-min</c>).</summary>
    public static IImageTransform[] WithCropScaleMin(IImageTransform[] views, double scaleMin) =>
        WithCrops(views, spec => spec with { ScaleMin = scaleMin }, "--crop-scale-min");

    /// <summary>The same views with crops resized to <paramref name="size"/> x <paramref name="size"/> pixels (<c>pretrain --image-size</c>).</summary>
    public static IImageTransform[] WithCropSize(IImageTransform[] views, int size) =>
        WithCrops(views, spec => spec with { Size = size }, "--image-size");

    private static IImageTransform[] WithCrops(IImageTransform[] views, Func<AugmentationSpec, AugmentationSpec> change, string flag) =>
        views.Select(v => v is AugmentationPipeline p && p.Spec.Geometry == GeometryKind.RandomResizedCrop
            ? new AugmentationPipeline(change(p.Spec))
            : throw new ArgumentException($"{flag} applies to random-resized-crop views only")).ToArray<IImageTransform>();

    /// <summary>Linear-evaluation and fine-tuning training transform for photographs: RandomResizedCrop(size, bilinear) + flip.</summary>
    public static IImageTransform LinearTrain(int imageSize = 224, DatasetNormalization? norm = null)
    {
        var n = norm ?? DatasetNormalization.ImageNet;
        return new AugmentationPipeline(new AugmentationSpec
        {
            Size = imageSize,
            Channels = n.Channels,
            Geometry = GeometryKind.RandomResizedCrop,
            Interpolation = ResampleFilter.Bilinear,
            FlipP = 0.5,
            Mean = n.Mean,
            Std = n.Std,
        });
    }

    /// <summary>Linear-evaluation training transform for small images: RandomCrop(size, padding 4) + flip.</summary>
    public static IImageTransform SmallImageLinearTrain(int size, DatasetNormalization norm) => new AugmentationPipeline(new AugmentationSpec
    {
        Size = size,
        Channels = norm.Channels,
        Geometry = GeometryKind.RandomCropPadded,
        Padding = 4,
        FlipP = 0.5,
        Mean = norm.Mean,
        Std = norm.Std,
    });

    /// <summary>Evaluation of small images: normalization only.</summary>
    public static IImageTransform SmallImageEvaluation(int size, DatasetNormalization norm) => new AugmentationPipeline(new AugmentationSpec
    {
        Size = size,
        Channels = norm.Channels,
        Geometry = GeometryKind.None,
        Mean = norm.Mean,
        Std = norm.Std,
    });
}
