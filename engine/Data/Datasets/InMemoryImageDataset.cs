namespace Vicreg.Engine.Data.Datasets;

/// <summary>
/// Equal-size images held in memory as packed HWC bytes (MNIST, CIFAR, tests). Reading copies one
/// image into the caller's buffer; concurrent readers only read the shared arrays.
/// </summary>
public class InMemoryImageDataset : IImageDataset
{
    private readonly byte[] _pixels;
    private readonly int[] _labels;
    private readonly string _source;

    /// <summary>Wraps (does not copy) <paramref name="pixels"/>: labels.Length images of width x height x channels HWC bytes;
    /// <paramref name="source"/> names them in <see cref="Describe"/>. A wrong size throws <see cref="ArgumentException"/>, a label outside <paramref name="classes"/> a <see cref="DatasetException"/>.</summary>
    public InMemoryImageDataset(byte[] pixels, int[] labels, int width, int height, int channels, IReadOnlyList<string> classes, string source)
    {
        if (channels is not (1 or 3)) throw new ArgumentOutOfRangeException(nameof(channels));
        if ((long)labels.Length * width * height * channels != pixels.Length)
            throw new ArgumentException($"{pixels.Length} pixel bytes do not hold {labels.Length} images of {width}x{height}x{channels}");
        _pixels = pixels;
        _labels = labels;
        Width = width;
        Height = height;
        Channels = channels;
        Classes = classes;
        _source = source;
        foreach (int l in labels)
            if ((uint)l >= (uint)classes.Count) throw new DatasetException($"{source}: label {l} is outside the {classes.Count} classes");
    }

    /// <inheritdoc/>
    public int Count => _labels.Length;
    /// <inheritdoc/>
    public IReadOnlyList<string> Classes { get; }
    /// <inheritdoc/>
    public int Channels { get; }
    /// <summary>Width of every image, in pixels.</summary>
    public int Width { get; }
    /// <summary>Height of every image, in pixels.</summary>
    public int Height { get; }
    /// <inheritdoc/>
    public int Label(int index) => _labels[index];
    /// <inheritdoc/>
    public string Describe(int index) => $"{_source}[{index}]";

    /// <summary>The raw pixels of image i (HWC).</summary>
    public ReadOnlySpan<byte> Pixels(int index)
    {
        int size = Width * Height * Channels;
        return _pixels.AsSpan(index * size, size);
    }

    /// <inheritdoc/>
    public void Read(int index, ImageBuffer destination, ref byte[] scratch, IDecodeScaleChooser? scale = null)
    {
        if ((uint)index >= (uint)Count) throw new ArgumentOutOfRangeException(nameof(index));
        Pixels(index).CopyTo(destination.Reset(Width, Height, Channels));
    }
}
