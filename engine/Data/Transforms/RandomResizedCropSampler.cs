namespace Vicreg.Engine.Data.Transforms;

/// <summary>
/// torchvision's RandomResizedCrop.get_params: up to 10 attempts at an area fraction uniform in
/// <c>scale</c> and an aspect ratio log-uniform in <c>ratio</c>, sides rounded half to even (Python's
/// round); the first that fits is placed uniformly. After 10 failures, the centre crop of the whole
/// image clamped to the ratio range.
/// </summary>
internal static class RandomResizedCropSampler
{
    public const int Attempts = 10;

    public static CropBox Sample(ref Rng rng, int width, int height, double scaleMin, double scaleMax, double ratioMin, double ratioMax)
    {
        double area = (double)width * height;
        double logMin = Math.Log(ratioMin), logMax = Math.Log(ratioMax);
        for (int attempt = 0; attempt < Attempts; attempt++)
        {
            double targetArea = area * rng.Uniform(scaleMin, scaleMax);
            double aspect = Math.Exp(rng.Uniform(logMin, logMax));
            int w = (int)Math.Round(Math.Sqrt(targetArea * aspect), MidpointRounding.ToEven);
            int h = (int)Math.Round(Math.Sqrt(targetArea / aspect), MidpointRounding.ToEven);
            if (w > 0 && w <= width && h > 0 && h <= height)
            {
                int top = rng.NextInt(height - h + 1);
                int left = rng.NextInt(width - w + 1);
                return new CropBox(left, top, w, h);
            }
        }
        return CentreFallback(width, height, ratioMin, ratioMax);
    }

    /// <summary>The crop used when no attempt fits.</summary>
    public static CropBox CentreFallback(int width, int height, double ratioMin, double ratioMax)
    {
        double inRatio = (double)width / height;
        int w, h;
        if (inRatio < ratioMin)
        {
            w = width;
            h = (int)Math.Round(w / ratioMin, MidpointRounding.ToEven);
        }
        else if (inRatio > ratioMax)
        {
            h = height;
            w = (int)Math.Round(h * ratioMax, MidpointRounding.ToEven);
        }
        else
        {
            w = width;
            h = height;
        }
        return new CropBox((width - w) / 2, (height - h) / 2, w, h);
    }
}
