namespace Vicreg.Engine.Data;

/// <summary>
/// Told the full size of an image before it is decoded, says how small it may be decoded: the
/// returned fraction (0, 1] is the least decoded-size / source-size ratio, along both axes, that the
/// later transforms accept. A JPEG decoder then picks the smallest DCT scaling factor at or above it,
/// which is several times faster than decoding a large photograph in full and resampling it down.
/// </summary>
public interface IDecodeScaleChooser
{
    /// <summary>The least decoded / source size ratio, in (0, 1], for an image of this full size.</summary>
    double MinimumScale(int sourceWidth, int sourceHeight);
}
