using System.Text.Json;
using Vicreg.Engine.Data.Datasets;
using Vicreg.Training;
using Vicreg.Tests.Engine.IO;

namespace Vicreg.Tests.App.Training;

/// <summary>The collapse diagnostics in stats.txt of a tiny pretraining run on the first Fashion-MNIST images.</summary>
public class PretrainStatsTests
{
    private static void RequireFashionMnist() =>
        Skip.IfNot(Directory.Exists(IdxDataset.DefaultFashionMnistPath()),
            $"skipped: Fashion-MNIST not installed at {IdxDataset.DefaultFashionMnistPath()} (tools/install-deps.sh installs it)");

    private static PretrainOptions Tiny(string expDir) => new()
    {
        ExpDir = expDir, Width = 0.125, Mlp = "64-48", Limit = 96, BatchSize = 24, Epochs = 2, WarmupEpochs = 1,
        BaseLr = 0.8, NumWorkers = 2, Device = "cpu", Seed = 5, LogFreqTime = 0,
    };

    private static PretrainResult Run(PretrainOptions o) => new Pretrainer(o, "vicreg pretrain (test)", TextWriter.Null).Run();

    [SkippableFact]
    public void EveryLogLineCarriesRankMeOfTheRepresentationAndTheEmbedding()
    {
        RequireFashionMnist();
        using var dir = new TempFolder();
        var result = Run(Tiny(dir.Path));
        var lines = File.ReadAllLines(dir.File("stats.txt"))[1..];
        Assert.Equal(result.Steps, lines.Length); // --log-freq-time 0: a line every step
        foreach (var line in lines)
        {
            var json = JsonDocument.Parse(line).RootElement;
            // Representation [24, 64] and embedding [24, 48]: RankMe lies in [1, 24]. A random-init network on real images
            // is far from both ends: not collapsed onto one direction, not white either.
            double representation = json.GetProperty("rankme_representation").GetDouble();
            double embedding = json.GetProperty("rankme_embedding").GetDouble();
            Assert.InRange(representation, 1.5, 24);
            Assert.InRange(embedding, 1.5, 24);
            Assert.True(json.TryGetProperty("embedding_std", out _));
        }
    }

    [SkippableFact]
    public void KnnEveryEpochIsLoggedWithItsCostAndLeavesTrainingUntouched()
    {
        RequireFashionMnist();
        using var plain = new TempFolder();
        using var monitored = new TempFolder();
        var without = Run(Tiny(plain.Path));
        var with = Run(Tiny(monitored.Path) with { KnnEvery = 1, KnnBank = 200, KnnQueries = 100 });
        // The measurement runs the backbone in eval mode and draws nothing from the run's random streams: same losses, bit for bit.
        Assert.Equal(without.Losses, with.Losses);
        var knn = File.ReadAllLines(monitored.File("stats.txt"))[1..].Select(l => JsonDocument.Parse(l).RootElement)
            .Where(j => j.TryGetProperty("knn_top1", out _)).ToArray();
        Assert.Equal(2, knn.Length); // after epochs 0 and 1
        Assert.Equal([0, 1], knn.Select(j => j.GetProperty("epoch").GetInt32()));
        foreach (var j in knn)
        {
            // Even a barely trained backbone's features put kNN far above chance (10%) on Fashion-MNIST.
            Assert.InRange(j.GetProperty("knn_top1").GetDouble(), 30, 100);
            Assert.Equal(200, j.GetProperty("knn_bank").GetInt32());
            Assert.Equal(100, j.GetProperty("knn_queries").GetInt32());
            Assert.InRange(j.GetProperty("knn_seconds").GetDouble(), 0.001, 600);
        }
        Assert.DoesNotContain(File.ReadAllLines(plain.File("stats.txt")), l => l.Contains("knn_top1"));
    }
}
