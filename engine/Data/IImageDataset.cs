namespace Vicreg.Engine.Data;

/// <summary>
/// A labelled image collection. Implementations are safe for concurrent readers: the loader's
/// worker threads call <see cref="Read"/> at the same time, each with its own buffers.
/// </summary>
public interface IImageDataset
{
    /// <summary>The number of samples.</summary>
    int Count { get; }

    /// <summary>Class names; label i names Classes[i].</summary>
    IReadOnlyList<string> Classes { get; }

    /// <summary>Channels of the decoded samples: 1 (grayscale datasets) or 3 (RGB).</summary>
    int Channels { get; }

    /// <summary>The class of sample <paramref name="index"/> (0 for an unlabelled collection).</summary>
    int Label(int index);

    /// <summary>Where sample i comes from (a file path, or "train-images-idx3-ubyte.gz[17]"), for warnings.</summary>
    string Describe(int index);

    /// <summary>
    /// Decodes sample <paramref name="index"/> into <paramref name="destination"/> (resized to fit)
    /// with <see cref="Channels"/> channels. <paramref name="scratch"/> is a per-thread reusable byte
    /// buffer for file contents (grown as needed). <paramref name="scale"/>, when given, is asked how
    /// far the image may be down-scaled while decoding. Throws <see cref="ImageDecodeException"/> for
    /// an unreadable or truncated image.
    /// </summary>
    void Read(int index, ImageBuffer destination, ref byte[] scratch, IDecodeScaleChooser? scale = null);
}
