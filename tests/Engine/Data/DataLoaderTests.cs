using Vicreg.Engine;
using Vicreg.Engine.Data;
using Vicreg.Engine.Data.Datasets;
using Vicreg.Engine.Data.Decoding;
using Vicreg.Engine.Data.Transforms;

namespace Vicreg.Tests.Engine.Data;

public class DataLoaderTests
{
    private static InMemoryImageDataset RandomDataset(int count, int size, int channels, ulong seed)
    {
        var pixels = TestImages.Noise(count * size * size * channels, seed);
        var rng = new Rng(seed + 1);
        var labels = Enumerable.Range(0, count).Select(_ => rng.NextInt(7)).ToArray();
        return new InMemoryImageDataset(pixels, labels, size, size, channels, Enumerable.Range(0, 7).Select(i => $"c{i}").ToArray(), "random");
    }

    private static IImageTransform[] TwoViews(int size, int channels)
    {
        var spec = new AugmentationSpec
        {
            Size = size, Channels = channels, ScaleMin = 0.2, FlipP = 0.5, JitterP = 0.8, Brightness = 0.4, Contrast = 0.4,
            Saturation = 0.2, Hue = 0.1, GrayscaleP = 0.2, BlurP = 0.5,
            Mean = channels == 3 ? [0.5f, 0.4f, 0.3f] : [0.3f], Std = channels == 3 ? [0.2f, 0.25f, 0.3f] : [0.35f],
        };
        return [new AugmentationPipeline(spec), new AugmentationPipeline(spec with { SolarizeP = 0.5, BlurP = 0 })];
    }

    private static List<(float[][] Views, int[] Labels)> Collect(DataLoader loader, int epoch)
    {
        var result = new List<(float[][], int[])>();
        foreach (var b in loader.Epoch(epoch))
            result.Add((b.Views.Select(v => v.ToArray<float>()).ToArray(), b.Labels.ToArray<int>()));
        return result;
    }

    [Fact]
    public void BatchesAreIdenticalWhateverTheNumberOfWorkers()
    {
        var ds = RandomDataset(29, 19, 3, 5);
        var views = TwoViews(11, 3);
        List<(float[][] Views, int[] Labels)>? reference = null;
        foreach (var (workers, prefetch) in new[] { (0, 2), (1, 2), (2, 2), (3, 2), (3, 1), (2, 4) })
        {
            using var loader = new DataLoader(ds, views, new DataLoaderOptions { BatchSize = 6, Seed = 77, NumWorkers = workers, DropLast = false, PrefetchBatches = prefetch });
            var got = Collect(loader, epoch: 3);
            Assert.Equal(5, got.Count);
            Assert.Equal(5, got[^1].Labels.Length);
            if (reference is null) { reference = got; continue; }
            for (int k = 0; k < got.Count; k++)
            {
                Assert.Equal(reference[k].Labels, got[k].Labels);
                for (int v = 0; v < 2; v++) Assert.Equal(reference[k].Views[v], got[k].Views[v]);
            }
        }
    }

    [Fact]
    public void EpochShufflesByEpochAndSeedAndCoversEverySample()
    {
        var ds = RandomDataset(23, 4, 1, 6);
        using var loader = new DataLoader(ds, [VicregTransformsForTests.Identity(4, 1)], new DataLoaderOptions { BatchSize = 5, Seed = 1, NumWorkers = 2 });
        Assert.Equal(4, loader.BatchesPerEpoch); // drop-last by default: 20 of 23
        var o1 = new int[23]; var o2 = new int[23]; var o1b = new int[23];
        loader.FillEpochOrder(1, o1);
        loader.FillEpochOrder(2, o2);
        loader.FillEpochOrder(1, o1b);
        Assert.Equal(o1, o1b);
        Assert.NotEqual(o1, o2);
        Assert.Equal(Enumerable.Range(0, 23), o1.Order());

        // The identity transform lets us check each row really is dataset[order[position]].
        int position = 0;
        foreach (var b in loader.Epoch(1))
        {
            var x = b.Views[0].ToArray<float>();
            var labels = b.Labels.ToArray<int>();
            Assert.Equal(new Shape(5, 1, 4, 4), b.Views[0].Shape);
            for (int r = 0; r < b.Count; r++, position++)
            {
                int idx = o1[position];
                Assert.Equal(ds.Label(idx), labels[r]);
                var px = ds.Pixels(idx);
                for (int i = 0; i < 16; i++) Assert.Equal(px[i] / 255f, x[r * 16 + i]);
            }
        }
        Assert.Equal(20, position);
    }

    [Fact]
    public void RingBuffersAreReusedAcrossBatches()
    {
        var ds = RandomDataset(40, 8, 3, 7);
        using var loader = new DataLoader(ds, TwoViews(8, 3), new DataLoaderOptions { BatchSize = 4, NumWorkers = 2, PrefetchBatches = 1 });
        var pointers = new HashSet<nint>();
        foreach (var b in loader.Epoch(0)) pointers.Add(b.Views[0].Data);
        Assert.Equal(2, pointers.Count); // ring of PrefetchBatches + 1 buffers
    }

    [Fact]
    public void UnreadableImagesAreSkippedCountedAndNamedOrFatalWhenStrict()
    {
        string root = TestImages.TempFolder("skip");
        try
        {
            foreach (var cls in new[] { "a", "b" })
            {
                Directory.CreateDirectory(Path.Combine(root, cls));
                for (int i = 0; i < 4; i++)
                {
                    var px = TestImages.Smooth(24, 20, 3, (ulong)(i + cls[0]));
                    File.WriteAllBytes(Path.Combine(root, cls, $"img{i}.JPG"), JpegEncoder.Encode(px, 24, 20, 3, 90));
                }
            }
            string bad = Path.Combine(root, "b", "img2.JPG");
            var full = File.ReadAllBytes(bad);
            File.WriteAllBytes(bad, full.AsSpan(0, full.Length / 3).ToArray());
            var ds = new ImageFolderDataset(root);
            var warnings = new StringWriter();
            var spec = new AugmentationSpec { Size = 16, ScaleMin = 0.3 };
            using (var loader = new DataLoader(ds, [new AugmentationPipeline(spec)], new DataLoaderOptions { BatchSize = 8, NumWorkers = 2, Warnings = warnings }))
            {
                int batches = 0;
                foreach (var b in loader.Epoch(0)) { batches++; Assert.Equal(8, b.Count); }
                Assert.Equal(1, batches);
                Assert.True(loader.SkippedSamples == 1, warnings.ToString());
                foreach (var _ in loader.Epoch(1)) { }
                Assert.Equal(1, loader.SkippedSamples); // counted once per file
            }
            Assert.Contains(bad, warnings.ToString());

            using var strict = new DataLoader(ds, [new AugmentationPipeline(spec)], new DataLoaderOptions { BatchSize = 8, NumWorkers = 2, Strict = true, Warnings = null });
            var e = Assert.Throws<DatasetException>(() => { foreach (var _ in strict.Epoch(0)) { } });
            Assert.Contains(bad, e.Message);
        }
        finally
        {
            Directory.Delete(root, true);
        }
    }

    [Fact]
    public void DatasetSmallerThanOneWholeBatchIsAClearError()
    {
        var ds = RandomDataset(5, 4, 1, 10);
        var e = Assert.Throws<DatasetException>(() => new DataLoader(ds, [VicregTransformsForTests.Identity(4, 1)], new DataLoaderOptions { BatchSize = 8 }));
        Assert.Contains("fewer than one batch", e.Message);
        using var evaluation = new DataLoader(ds, [VicregTransformsForTests.Identity(4, 1)], new DataLoaderOptions { BatchSize = 8, DropLast = false, Shuffle = false, NumWorkers = 1 });
        var only = Assert.Single(evaluation.Epoch(0).Select(b => (b.Count, b.Labels.Shape[0], b.Views[0].Shape[0])));
        Assert.Equal((5, 5, 5), only);
    }

    [Fact]
    public void StoppingEarlyStopsTheWorkers()
    {
        var ds = RandomDataset(64, 8, 3, 9);
        using var loader = new DataLoader(ds, TwoViews(8, 3), new DataLoaderOptions { BatchSize = 4, NumWorkers = 3 });
        foreach (var b in loader.Epoch(0)) { if (b.Index == 2) break; }
        // A new epoch can start at once (the previous one was shut down).
        Assert.Equal(16, loader.Epoch(1).Count());
    }
}

/// <summary>A plain transform for loader tests: the image as is, scaled to [0, 1].</summary>
internal static class VicregTransformsForTests
{
    public static IImageTransform Identity(int size, int channels) => new AugmentationPipeline(new AugmentationSpec
    {
        Size = size, Channels = channels, Geometry = GeometryKind.None,
        Mean = Enumerable.Repeat(0f, channels).ToArray(), Std = Enumerable.Repeat(1f, channels).ToArray(),
    });
}
