using Vicreg.Engine.Data;
using Vicreg.Engine.Data.Datasets;
using Vicreg.Engine.Data.Transforms;

namespace Vicreg.Tests.Engine.Data;

/// <summary>Sharded loading for data-parallel ranks: row j of shard r's batch k is row r + j·shards of the
/// unsharded loader's batch k (same sample, same augmented bytes), so the ranks of a step together see
/// exactly the one-process batch.</summary>
public class DataLoaderShardTests
{
    [Theory]
    [InlineData(2, 3, 23)]
    [InlineData(3, 2, 31)]
    [InlineData(2, 1, 5)]
    public void Shards_interleave_the_unsharded_batches(int shards, int perShard, int count)
    {
        var pixels = TestImages.Noise(count * 8 * 8 * 3, 5);
        var labels = Enumerable.Range(0, count).ToArray(); // the label names the sample
        var dataset = new InMemoryImageDataset(pixels, labels, 8, 8, 3, Enumerable.Range(0, count).Select(i => $"s{i}").ToArray(), "random");
        var spec = new AugmentationSpec { Size = 8, Channels = 3, ScaleMin = 0.2, FlipP = 0.5, JitterP = 0.8, Brightness = 0.4, Contrast = 0.4, Mean = [0.5f, 0.4f, 0.3f], Std = [0.2f, 0.25f, 0.3f] };
        IImageTransform[] views = [new AugmentationPipeline(spec), new AugmentationPipeline(spec with { SolarizeP = 0.5 })];
        var baseOptions = new DataLoaderOptions { BatchSize = perShard * shards, Seed = 11, NumWorkers = 2, Warnings = null };
        const int epoch = 1;
        List<(float[][] Views, int[] Labels)> whole;
        using (var unsharded = new DataLoader(dataset, views, baseOptions)) whole = Collect(unsharded, epoch);
        int rowFloats = 3 * 8 * 8;
        for (int r = 0; r < shards; r++)
        {
            using var loader = new DataLoader(dataset, views, baseOptions with { BatchSize = perShard, ShardIndex = r, ShardCount = shards, NumWorkers = 1 });
            Assert.Equal(count / (perShard * shards), loader.BatchesPerEpoch);
            var shard = Collect(loader, epoch);
            Assert.Equal(whole.Count, shard.Count);
            for (int k = 0; k < whole.Count; k++)
                for (int j = 0; j < perShard; j++)
                {
                    int row = r + j * shards;
                    Assert.Equal(whole[k].Labels[row], shard[k].Labels[j]);
                    for (int v = 0; v < 2; v++)
                        Assert.Equal(whole[k].Views[v].AsSpan(row * rowFloats, rowFloats).ToArray(), shard[k].Views[v].AsSpan(j * rowFloats, rowFloats).ToArray());
                }
        }
    }

    private static List<(float[][] Views, int[] Labels)> Collect(DataLoader loader, int epoch)
    {
        var result = new List<(float[][], int[])>();
        foreach (var b in loader.Epoch(epoch))
            result.Add((b.Views.Select(v => v.ToArray<float>()).ToArray(), b.Labels.ToArray<int>()));
        return result;
    }
}
