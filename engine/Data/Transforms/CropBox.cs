namespace Vicreg.Engine.Data.Transforms;

/// <summary>A crop rectangle in source pixels: top-left (Left, Top), size Width x Height (torchvision's j, i, w, h).</summary>
internal readonly record struct CropBox(int Left, int Top, int Width, int Height);
