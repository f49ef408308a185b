using Vicreg.Engine.Data;

namespace Vicreg.Augment;

/// <summary>The samples of <paramref name="inner"/> at <paramref name="indices"/>, in that order: the first N
/// images (--limit) or a label subset (fine-tuning's 1% / 10%).</summary>
public sealed class IndexedSubset(IImageDataset inner, IReadOnlyList<int> indices) : IImageDataset
{
    public IReadOnlyList<int> Indices => indices;
    public int Count => indices.Count;
    public IReadOnlyList<string> Classes => inner.Classes;
    public int Channels => inner.Channels;
    public int Label(int index) => inner.Label(indices[index]);
    public string Describe(int index) => inner.Describe(indices[index]);
    public void Read(int index, ImageBuffer destination, ref byte[] scratch, IDecodeScaleChooser? scale = null)
        => inner.Read(indices[index], destination, ref scratch, scale);
}
