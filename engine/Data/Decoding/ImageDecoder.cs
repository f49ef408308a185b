namespace Vicreg.Engine.Data.Decoding;

/// <summary>Picks the decoder from the file's first bytes (not its extension, which may lie).</summary>
public static class ImageDecoder
{
    /// <summary>Decodes a PNG or JPEG; one of more than <paramref name="maxPixels"/> pixels is refused from its header.</summary>
    public static void Decode(ReadOnlySpan<byte> data, ImageBuffer destination, int channels, IDecodeScaleChooser? scale = null,
        long maxPixels = ImageLimits.DefaultMaxPixels)
    {
        if (JpegDecoder.IsJpeg(data)) JpegDecoder.Decode(data, destination, channels, scale, maxPixels);
        else if (PngDecoder.IsPng(data)) PngDecoder.Decode(data, destination, channels, maxPixels);
        else if (data.Length == 0) throw new ImageDecodeException("empty file");
        else throw new ImageDecodeException("neither JPEG nor PNG (unrecognized first bytes)");
    }
}
