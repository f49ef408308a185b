namespace Vicreg.Engine.Data;

/// <summary>
/// How large an image may be. The pixel limit is checked from the file's header, before anything of
/// the image's size is allocated, so a small file announcing an enormous image costs nothing; the
/// default is Pillow's <c>Image.MAX_IMAGE_PIXELS</c> (a 1 GiB RGBA image: 89,478,485 pixels).
/// Buffers grown for an image larger than <see cref="RetainedBufferBytes"/> are handed back after it,
/// so one outsized image does not pin its memory in every worker for the rest of the run.
/// </summary>
public static class ImageLimits
{
    /// <summary>The default pixel limit: 89,478,485.</summary>
    public const long DefaultMaxPixels = 1024L * 1024 * 1024 / 4 / 3;

    /// <summary>Per-thread decode buffers up to this size are kept for the next image (a 10-megapixel
    /// RGB photograph fits); larger ones are released once their image is done.</summary>
    public const int RetainedBufferBytes = 32 << 20;

    /// <summary>Refuses an image whose header announces more than <paramref name="maxPixels"/> pixels.</summary>
    public static void CheckPixels(long width, long height, long maxPixels)
    {
        if (width <= 0 || height <= 0) throw new ImageDecodeException($"image of size {width}x{height}");
        if (width * height > maxPixels)
            throw new ImageDecodeException($"image {width}x{height} has {width * height:N0} pixels, over the limit of {maxPixels:N0} (--max-image-pixels raises it)");
    }

    /// <summary>The buffer itself, or null when it is too large to keep after its image.</summary>
    public static byte[]? Retainable(byte[]? buffer) => buffer is null || buffer.Length <= RetainedBufferBytes ? buffer : null;
}
