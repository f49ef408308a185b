namespace Vicreg.Engine.Data;

/// <summary>
/// Turns one decoded image into one float CHW sample of fixed size (<see cref="Channels"/> x
/// <see cref="Height"/> x <see cref="Width"/>), drawing its randomness from a per-sample stream
/// (<c>Rng.ForKey(seed, epoch, index, view)</c>), so the output depends only on that key and the image.
/// Implementations hold no per-call state and are safe to call from several threads at once.
/// </summary>
public interface IImageTransform
{
    /// <summary>The channels of the output (1 or 3).</summary>
    int Channels { get; }
    /// <summary>The output's height in pixels.</summary>
    int Height { get; }
    /// <summary>The output's width in pixels.</summary>
    int Width { get; }

    /// <summary>
    /// The least decode scale (see <see cref="IDecodeScaleChooser"/>) this transform accepts for an
    /// image of the given full size, when it will be called with a generator in state
    /// <paramref name="rng"/> (passed by value: the transform replays its geometric draws on the copy).
    /// Return 1 to require full resolution.
    /// </summary>
    double MinimumDecodeScale(int sourceWidth, int sourceHeight, Rng rng);

    /// <summary>Writes Channels*Height*Width floats (CHW) into <paramref name="destination"/>. The image
    /// is left unchanged (the views of a sample share one decoded image).</summary>
    void Apply(ImageBuffer image, ref Rng rng, Span<float> destination);
}
