using Vicreg.Engine;
using Vicreg.Engine.Data;
using Vicreg.Engine.Data.Datasets;
using Vicreg.Tests.Engine.Data;
using Vicreg.Engine.Inference;

namespace Vicreg.Tests.Engine.Inference;

public class FeatureExtractorTests
{
    private const int Side = 6;

    private static InMemoryImageDataset Images(int count) =>
        new(TestImages.Noise(count * Side * Side, 23), Enumerable.Range(0, count).Select(i => (i * 7 + 3) % 5).ToArray(),
            Side, Side, 1, ["a", "b", "c", "d", "e"], "images");

    [Theory]
    [InlineData(0, 2)]
    [InlineData(2, 2)]
    [InlineData(1, 7)]
    public void AnUnreadableSampleHasNoRowAndEveryRowIsItsOwnSample(int workers, int batchSize)
    {
        var images = Images(7);
        var ds = new FailingDataset(images, new() { [1] = new ImageDecodeException("truncated"), [4] = new InvalidOperationException("bug") });
        var features = FeatureExtractor.Extract(null, ds, VicregTransformsForTests.Identity(Side, 1), Device.Cpu, batchSize, workers);
        Assert.Equal([0, 2, 3, 5, 6], features.Indices);
        Assert.Equal(5, features.Count);
        Assert.Equal(Side * Side, features.Dimension);
        for (int r = 0; r < features.Count; r++)
        {
            int i = features.Indices[r];
            Assert.Equal(images.Label(i), features.Labels[r]);
            var pixels = images.Pixels(i);
            for (int p = 0; p < Side * Side; p++) Assert.Equal(pixels[p] / 255f, features.Values[r * Side * Side + p]);
        }
    }

    [Fact]
    public void StrictStopsAtTheFirstUnreadableSampleAndNothingReadableIsAnError()
    {
        var ds = new FailingDataset(Images(4), new() { [2] = new ImageDecodeException("truncated") });
        var e = Assert.Throws<DatasetException>(() => FeatureExtractor.Extract(null, ds, VicregTransformsForTests.Identity(Side, 1), Device.Cpu, 2, 1, strict: true));
        Assert.Contains("sample-2: truncated", e.Message);
        var none = new FailingDataset(Images(2), new() { [0] = new ImageDecodeException("bad"), [1] = new ImageDecodeException("bad") });
        var n = Assert.Throws<DatasetException>(() => FeatureExtractor.Extract(null, none, VicregTransformsForTests.Identity(Side, 1), Device.Cpu, 2, 1));
        Assert.Contains("none of the 2 images could be read", n.Message);
    }
}
