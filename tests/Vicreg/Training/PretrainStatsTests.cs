using System.Text.Json;
using Vicreg.Engine.Data.Datasets;
using Vicreg.Training;
using Vicreg.Tests.Engine.IO;

namespace Vicreg.Tests.Training;

/// <summary>The collapse diagnostics in stats.txt of a tiny pretraining run on the first Fashion-MNIST images.</summary>
public class PretrainStatsTests
{
    [SkippableFact]
    public void EveryLogLineCarriesRankMeOfTheRepresentationAndTheEmbedding()
    {
        Skip.IfNot(Directory.Exists(IdxDataset.DefaultFashionMnistPath()),
            $"skipped: Fashion-MNIST not installed at {IdxDataset.DefaultFashionMnistPath()} (tools/install-deps.sh installs it)");
        using var dir = new TempFolder();
        var o = new PretrainOptions
        {
            ExpDir = dir.Path, Width = 0.125, Mlp = "64-48", Limit = 96, BatchSize = 24, Epochs = 2, WarmupEpochs = 1,
            BaseLr = 0.8, NumWorkers = 2, Device = "cpu", Seed = 5, LogFreqTime = 0,
        };
        var result = new Pretrainer(o, "vicreg pretrain (test)", TextWriter.Null).Run();
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
}
