using Vicreg.Engine.Data.Decoding;

namespace Vicreg.Engine.Data.Datasets;

/// <summary>
/// Unlabelled image files in a given order (<see cref="ImageFileList"/> collects them from a command line), read by
/// the bytes of their names as <see cref="ImageFolderDataset"/> reads its files: only regular files, JPEG or PNG
/// told apart by content, an image announcing more than <see cref="MaxPixels"/> pixels refused from its header.
/// Every sample's label is 0.
/// </summary>
public sealed class ImageFilesDataset(IReadOnlyList<byte[]> paths, int channels = 3, long maxPixels = ImageLimits.DefaultMaxPixels) : IImageDataset
{
    private readonly byte[][] _paths = channels is 1 or 3 && maxPixels > 0 ? [.. paths] : throw new ArgumentOutOfRangeException(nameof(channels));

    /// <inheritdoc/>
    public int Count => _paths.Length;
    /// <inheritdoc/>
    public IReadOnlyList<string> Classes { get; } = [];
    /// <inheritdoc/>
    public int Channels => channels;
    /// <summary>Images announcing more pixels than this are refused from their header (--max-image-pixels).</summary>
    public long MaxPixels => maxPixels;
    /// <inheritdoc/>
    public int Label(int index) => 0;
    /// <inheritdoc/>
    public string Describe(int index) => PathText.Display(_paths[index]);

    /// <inheritdoc/>
    public void Read(int index, ImageBuffer destination, ref byte[] scratch, IDecodeScaleChooser? scale = null)
    {
        int length = NativeFileSystem.ReadRegularFile(_paths[index], ref scratch);
        ImageDecoder.Decode(scratch.AsSpan(0, length), destination, channels, scale, maxPixels);
    }
}
