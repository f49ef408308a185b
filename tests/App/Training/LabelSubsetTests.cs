using Vicreg.Engine.Data;
using Vicreg.Engine.Data.Datasets;
using Vicreg.Tests.Engine.IO;
using Vicreg.Training;

namespace Vicreg.Tests.App.Training;

/// <summary>Fine-tuning's label subsets: class-balanced (round(p%) of every class, at least one), seeded,
/// and their file list read back exactly, refusing a list that does not fit the data set.</summary>
public class LabelSubsetTests
{
    /// <summary>Unbalanced classes of awkward sizes (61, 30, 7, 1 and 13 images), labels interleaved.</summary>
    private static InMemoryImageDataset Unbalanced()
    {
        int[] counts = [61, 30, 7, 1, 13];
        var labels = new List<int>();
        for (int round = 0; labels.Count < counts.Sum(); round++)
            for (int c = 0; c < counts.Length; c++)
                if (round < counts[c]) labels.Add(c);
        var pixels = new byte[labels.Count * 4];
        for (int i = 0; i < pixels.Length; i++) pixels[i] = (byte)(i * 37 + 11);
        return new InMemoryImageDataset(pixels, labels.ToArray(), 2, 2, 1, ["a", "b", "c", "d", "e"], "unbalanced");
    }

    [Theory]
    [InlineData(1, new[] { 1, 1, 1, 1, 1 })]
    [InlineData(10, new[] { 6, 3, 1, 1, 1 })]
    [InlineData(50, new[] { 31, 15, 4, 1, 7 })]
    [InlineData(100, new[] { 61, 30, 7, 1, 13 })]
    public void EveryClassGivesRoundedPercentOfItsImagesAndAtLeastOne(int percent, int[] expected)
    {
        var ds = Unbalanced();
        var chosen = LabelSubset.Select(ds, percent, seed: 3);
        var perClass = Enumerable.Range(0, 5).Select(c => chosen.Count(i => ds.Label(i) == c)).ToArray();
        Assert.Equal(expected, perClass);
        Assert.Equal(chosen.Length, chosen.Distinct().Count());
        Assert.Equal(chosen.Order(), chosen);
    }

    [Fact]
    public void TheDrawIsFixedByTheSeedAndChangesWithIt()
    {
        var ds = Unbalanced();
        Assert.Equal(LabelSubset.Select(ds, 50, seed: 3), LabelSubset.Select(ds, 50, seed: 3));
        Assert.NotEqual(LabelSubset.Select(ds, 50, seed: 3), LabelSubset.Select(ds, 50, seed: 4));
    }

    [Fact]
    public void AWrittenListReadsBackAsTheSameIndices()
    {
        var ds = Unbalanced();
        using var dir = new TempFolder();
        var chosen = LabelSubset.Select(ds, 10, seed: 5);
        LabelSubset.Write(dir.File("list.txt"), ds, chosen, "test");
        Assert.Equal(chosen, LabelSubset.Read(dir.File("list.txt"), ds));
    }

    [Theory]
    [InlineData("1\t0\tx", "has label 1 here, 0 in the list")]
    [InlineData("112\t0", "beyond the 112 training images")]
    [InlineData("0\t0\n0\t0", "listed twice")]
    [InlineData("zero\t0", "expected 'index<TAB>label")]
    [InlineData("# nothing", "lists no images")]
    public void AListThatDoesNotFitTheDataSetIsRefusedNamingTheProblem(string contents, string expected)
    {
        using var dir = new TempFolder();
        File.WriteAllText(dir.File("list.txt"), contents + "\n");
        var e = Assert.Throws<DatasetException>(() => LabelSubset.Read(dir.File("list.txt"), Unbalanced()));
        Assert.Contains(expected, e.Message);
    }
}
