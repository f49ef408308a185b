using Vicreg.Datasets;
using Vicreg.Engine.Data.Datasets;
using Vicreg.Engine.Data;

namespace Vicreg.Tests.App.Datasets;

public class DatasetCatalogTests
{
    [Fact]
    public void UnknownNamesAndMissingDataDirAreClearErrors()
    {
        var e = Assert.Throws<DatasetException>(() => DatasetCatalog.Open("imagenet21k", null, true));
        Assert.Contains("imagenet21k", e.Message);
        Assert.Contains("fashion-mnist", e.Message);
        var d = Assert.Throws<DatasetException>(() => DatasetCatalog.Open("cifar10", null, true));
        Assert.Contains("--data-dir", d.Message);
    }

    [SkippableFact]
    public void DefaultFashionMnistComesWithGrayRecipes()
    {
        Skip.IfNot(File.Exists(Path.Combine(IdxDataset.DefaultFashionMnistPath(), "t10k-images-idx3-ubyte.gz")), "dataset-fashion-mnist is not installed");
        var choice = DatasetCatalog.Open("fashion-mnist", null, train: false);
        Assert.Equal(28, choice.ImageSize);
        Assert.All(choice.PretrainViews, v => Assert.Equal((1, 28, 28), (v.Channels, v.Height, v.Width)));
        Assert.Equal((1, 28, 28), (choice.Evaluation.Channels, choice.Evaluation.Height, choice.Evaluation.Width));
    }
}
