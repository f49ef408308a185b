using Vicreg.Augment;
using Vicreg.Datasets;
using Vicreg.Engine.Data.Datasets;
using Vicreg.Engine.Data;
using Vicreg.Engine;

namespace Vicreg.Tests.Engine.Data;

public class DataLoaderResumeTests
{
    [Theory]
    [InlineData(0, 1)]
    [InlineData(2, 3)]
    public void StartingMidEpochGivesTheSameLaterBatches(int workers, int firstBatch)
    {
        var rng = new Rng(40);
        int count = 37, size = 12;
        var pixels = new byte[count * size * size];
        foreach (ref var p in pixels.AsSpan()) p = (byte)rng.NextInt(256);
        var labels = Enumerable.Range(0, count).Select(i => i % 3).ToArray();
        var dataset = new InMemoryImageDataset(pixels, labels, size, size, 1, ["a", "b", "c"], "random");
        var options = new DataLoaderOptions { BatchSize = 5, Seed = 7, NumWorkers = workers, Warnings = null };

        var full = new List<(float[], float[], int[])>();
        using (var loader = new DataLoader(dataset, VicregAugmentations.SmallImageTwoViews(size, DatasetNormalization.Mnist), options))
            foreach (var b in loader.Epoch(2))
                full.Add((b.Views[0].ToArray<float>(), b.Views[1].ToArray<float>(), b.Labels.ToArray<int>()));

        var resumed = new List<(float[], float[], int[])>();
        using (var loader = new DataLoader(dataset, VicregAugmentations.SmallImageTwoViews(size, DatasetNormalization.Mnist), options))
            foreach (var b in loader.Epoch(2, firstBatch))
                resumed.Add((b.Views[0].ToArray<float>(), b.Views[1].ToArray<float>(), b.Labels.ToArray<int>()));

        Assert.Equal(full.Count - firstBatch, resumed.Count);
        for (int k = 0; k < resumed.Count; k++)
        {
            Assert.Equal(full[k + firstBatch].Item1, resumed[k].Item1);
            Assert.Equal(full[k + firstBatch].Item2, resumed[k].Item2);
            Assert.Equal(full[k + firstBatch].Item3, resumed[k].Item3);
        }
    }
}
