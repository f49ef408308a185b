using Vicreg.Engine.Data.Datasets;
using Vicreg.Training;

namespace Vicreg.Tests.Training;

/// <summary>Tiny pretraining runs on the first images of Fashion-MNIST (Debian's dataset-fashion-mnist,
/// which the test command installs): the loss falls, the embeddings do not collapse, and a run that is
/// stopped and resumed continues exactly as the uninterrupted run.</summary>
public class PretrainTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "vicreg-pretrain-tests-" + Guid.NewGuid().ToString("N"));

    private static void RequireFashionMnist() =>
        Skip.IfNot(Directory.Exists(IdxDataset.DefaultFashionMnistPath()),
            $"skipped: Fashion-MNIST not installed at {IdxDataset.DefaultFashionMnistPath()} (tools/install-deps.sh installs it)");

    private PretrainOptions Tiny(string name) => new()
    {
        ExpDir = Path.Combine(_root, name),
        Width = 0.125,
        Mlp = "64-64",
        Limit = 96,
        BatchSize = 24,
        Epochs = 3,
        WarmupEpochs = 1,
        BaseLr = 0.8,
        NumWorkers = 2,
        Device = "cpu",
        Seed = 5,
        LogFreqTime = 0,
    };

    private static PretrainResult Run(PretrainOptions o) => new Pretrainer(o, "vicreg pretrain (test)", TextWriter.Null).Run();

    [SkippableFact]
    public void LossFallsAndEmbeddingsKeepTheirSpread()
    {
        RequireFashionMnist();
        var o = Tiny("falls") with { Epochs = 6 };
        var result = Run(o);
        Assert.Equal(24, result.Steps);
        double first = result.Losses.Take(4).Average(), last = result.Losses.TakeLast(4).Average();
        Assert.True(last < first, $"loss did not fall: first steps {first:F4}, last steps {last:F4}");
        Assert.True(result.LastEmbeddingStd > 0.05, $"embeddings collapsed: mean std {result.LastEmbeddingStd}");
        Assert.True(File.Exists(Path.Combine(o.ExpDir, "backbone.safetensors")));
        var stats = File.ReadAllLines(Path.Combine(o.ExpDir, "stats.txt"));
        Assert.StartsWith("vicreg pretrain", stats[0]);
        Assert.Contains("\"covariance\"", stats[1]);
        Assert.Contains("\"embedding_std\"", stats[^1]);
    }

    [SkippableTheory]
    [InlineData(4)]  // stopped at an epoch boundary
    [InlineData(6)]  // stopped mid-epoch
    public void StoppedAndResumedRunMatchesTheUninterruptedOne(long stopAfter)
    {
        RequireFashionMnist();
        var whole = Run(Tiny("whole"));
        var interrupted = Tiny("resumed-" + stopAfter);
        var firstPart = Run(interrupted with { MaxSteps = stopAfter });
        Assert.Equal(stopAfter, firstPart.Steps);
        Assert.False(File.Exists(Path.Combine(interrupted.ExpDir, "backbone.safetensors")));
        var secondPart = Run(interrupted);
        var resumed = firstPart.Losses.Concat(secondPart.Losses).ToArray();
        Assert.Equal(whole.Losses.Count, resumed.Length);
        for (int i = 0; i < resumed.Length; i++)
            Assert.True(whole.Losses[i] == resumed[i], $"step {i + 1}: uninterrupted {whole.Losses[i]:R}, resumed {resumed[i]:R}");
        Assert.True(File.Exists(Path.Combine(interrupted.ExpDir, "backbone.safetensors")));
    }

    [SkippableFact]
    public void ACheckpointFromOtherSettingsIsRefused()
    {
        RequireFashionMnist();
        var o = Tiny("refuse");
        Run(o with { MaxSteps = 2 });
        var e = Assert.Throws<CheckpointException>(() => Run(o with { Mlp = "32-32" }));
        Assert.Contains("--mlp", e.Message);
    }

    public void Dispose()
    {
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { }
    }
}
