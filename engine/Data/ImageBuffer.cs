using System.Runtime.CompilerServices;

namespace Vicreg.Engine.Data;

/// <summary>
/// A reusable decoded image: interleaved HWC bytes with 1 (gray) or 3 (RGB) channels. One lives per
/// worker thread and grows to the largest image seen, so decoding allocates nothing in steady state.
/// <para>
/// <see cref="SourceWidth"/>/<see cref="SourceHeight"/> are the full-resolution size of the stored
/// image; <see cref="Width"/>/<see cref="Height"/> are what was decoded, which is smaller when the
/// JPEG decoder used DCT scaling. Transforms sample their geometry from the source size (so random
/// draws do not depend on the decode scale) and map it onto the decoded pixels.
/// </para>
/// </summary>
public sealed class ImageBuffer
{
    private byte[] _pixels = [];

    /// <summary>The decoded width in pixels.</summary>
    public int Width { get; private set; }
    /// <summary>The decoded height in pixels.</summary>
    public int Height { get; private set; }
    /// <summary>Bytes per pixel: 1 (gray) or 3 (RGB).</summary>
    public int Channels { get; private set; }
    /// <summary>The image's full width (larger than Width when decoded at a reduced scale).</summary>
    public int SourceWidth { get; private set; }
    /// <summary>The image's full height.</summary>
    public int SourceHeight { get; private set; }

    /// <summary>Bytes per row (Width * Channels: rows are packed).</summary>
    public int Stride => Width * Channels;

    /// <summary>Decoded size over source size along x (1 when decoded at full resolution).</summary>
    public double ScaleX => SourceWidth == 0 ? 1 : (double)Width / SourceWidth;
    /// <summary>Decoded size over source size along y.</summary>
    public double ScaleY => SourceHeight == 0 ? 1 : (double)Height / SourceHeight;

    /// <summary>Sets the geometry (source size = decoded size) and makes room; contents are undefined.</summary>
    public Span<byte> Reset(int width, int height, int channels) => Reset(width, height, channels, width, height);

    /// <summary>Sets the geometry of a possibly down-scaled decode and makes room; contents are undefined.</summary>
    public Span<byte> Reset(int width, int height, int channels, int sourceWidth, int sourceHeight)
    {
        if (width <= 0 || height <= 0) throw new ArgumentOutOfRangeException(nameof(width), $"image size {width}x{height}");
        if (channels is not (1 or 3)) throw new ArgumentOutOfRangeException(nameof(channels), $"{channels} channels (1 or 3 expected)");
        long bytes = (long)width * height * channels;
        if (bytes > System.Array.MaxLength) throw new ImageDecodeException($"image {width}x{height} is too large for one buffer ({bytes:N0} bytes)");
        if (_pixels.Length < bytes)
            _pixels = GC.AllocateUninitializedArray<byte>((int)Math.Max(bytes, Math.Min(_pixels.Length * 3L / 2, System.Array.MaxLength)));
        Width = width;
        Height = height;
        Channels = channels;
        SourceWidth = sourceWidth;
        SourceHeight = sourceHeight;
        return Pixels;
    }

    /// <summary>Hands the pixel array back when it outgrew <see cref="ImageLimits.RetainedBufferBytes"/>: call it once
    /// the image is used, so one outsized image does not stay resident for the rest of the run.</summary>
    public void ReleaseIfOutsized()
    {
        if (_pixels.Length <= ImageLimits.RetainedBufferBytes) return;
        _pixels = [];
        Width = Height = Channels = SourceWidth = SourceHeight = 0;
    }

    /// <summary>Bytes held for pixels (grows to the largest image kept).</summary>
    public int Capacity => _pixels.Length;

    /// <summary>The pixels, row-major HWC, <see cref="Stride"/> bytes per row.</summary>
    public Span<byte> Pixels => _pixels.AsSpan(0, Width * Height * Channels);

    /// <summary>The backing array, for pinning (may be longer than the image).</summary>
    internal byte[] Array => _pixels;

    /// <summary>The byte of channel <paramref name="c"/> of pixel (<paramref name="x"/>, <paramref name="y"/>).</summary>
    public ref byte this[int y, int x, int c]
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => ref _pixels[(y * Width + x) * Channels + c];
    }

    /// <summary>Copies another image (geometry and pixels) into this one.</summary>
    public void CopyFrom(ImageBuffer other)
    {
        other.Pixels.CopyTo(Reset(other.Width, other.Height, other.Channels, other.SourceWidth, other.SourceHeight));
    }
}
