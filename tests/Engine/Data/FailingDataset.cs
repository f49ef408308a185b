using Vicreg.Engine.Data;

namespace Vicreg.Tests.Engine.Data;

/// <summary>A dataset whose chosen samples fail with the given exceptions (of any type, as a decoder's bug
/// would), described as "sample-i".</summary>
internal sealed class FailingDataset(IImageDataset inner, Dictionary<int, Exception> failures) : IImageDataset
{
    public int Count => inner.Count;
    public IReadOnlyList<string> Classes => inner.Classes;
    public int Channels => inner.Channels;
    public int Label(int index) => inner.Label(index);
    public string Describe(int index) => $"sample-{index}";
    public void Read(int index, ImageBuffer destination, ref byte[] scratch, IDecodeScaleChooser? scale = null)
    {
        if (failures.TryGetValue(index, out var e)) throw e;
        inner.Read(index, destination, ref scratch, scale);
    }
}
