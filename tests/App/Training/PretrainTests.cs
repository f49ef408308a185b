using Vicreg.Engine.Data.Datasets;
using Vicreg.Training;

namespace Vicreg.Tests.App.Training;

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

    private static (PretrainResult Result, string Output) RunSaying(PretrainOptions o)
    {
        var output = new StringWriter();
        var result = new Pretrainer(o, "vicreg pretrain (test)", output).Run();
        return (result, output.ToString());
    }

    [SkippableFact]
    public void AFinishedRunStaysFinished()
    {
        RequireFashionMnist();
        var o = Tiny("finished") with { MaxSteps = 5 };
        Assert.Equal(5, Run(o).Steps);
        string checkpoint = Path.Combine(o.ExpDir, Checkpoint.FileName), stats = Path.Combine(o.ExpDir, "stats.txt");
        byte[] before = File.ReadAllBytes(checkpoint);
        string[] logged = File.ReadAllLines(stats);
        var (again, said) = RunSaying(o);
        Assert.Equal(5, again.Steps);
        Assert.Empty(again.Losses);
        Assert.Contains("this run has finished (step 5, epoch 1; --max-steps 5); nothing to train", said);
        Assert.Single(said.Split('\n', StringSplitOptions.RemoveEmptyEntries), line => line.Contains("finished"));
        Assert.Equal(before, File.ReadAllBytes(checkpoint));
        Assert.Equal(logged, File.ReadAllLines(stats));

        var whole = Tiny("finished-epochs");
        Assert.Equal(12, Run(whole).Steps);
        var (rerun, line) = RunSaying(whole);
        Assert.Empty(rerun.Losses);
        Assert.Contains("this run has finished (step 12, epoch 3; --epochs 3)", line);
    }

    [SkippableTheory]
    [InlineData("--limit 96", 48, 24)]
    [InlineData("--batch-size 24", 96, 12)]
    public void AnotherLimitOrBatchSizeIsRefused(string expected, int limit, int batchSize)
    {
        RequireFashionMnist();
        var o = Tiny("other-data");
        Run(o with { MaxSteps = 5 });
        var e = Assert.Throws<CheckpointException>(() => Run(o with { Limit = limit, BatchSize = batchSize }));
        Assert.Contains($"was written with {expected}", e.Message);
    }

    [SkippableFact]
    public void AnotherCropScaleIsRefused()
    {
        RequireFashionMnist();
        var o = Tiny("other-crop");
        Run(o with { MaxSteps = 5 });
        var e = Assert.Throws<CheckpointException>(() => Run(o with { CropScaleMin = 0.5 }));
        Assert.Contains("was written with no --crop-scale-min (the data set's recipe), this run has --crop-scale-min 0.5", e.Message);
        Run(o with { MaxSteps = 6 }); // the recipe's crops resume
    }

    [SkippableFact]
    public void SmallerCropsTrainAndAnotherSizeIsRefusedOnResume()
    {
        RequireFashionMnist();
        var o = Tiny("crop-size") with { ImageSize = 16 };
        var small = Run(o with { MaxSteps = 5 });
        var native = Run(Tiny("native-size") with { MaxSteps = 5 });
        Assert.NotEqual(native.Losses, small.Losses); // same seed and images: only the crops' size differs
        using (var reader = new Vicreg.Engine.IO.SafetensorsReader(Path.Combine(o.ExpDir, Checkpoint.FileName)))
            Assert.Equal("16", reader.Metadata["image_size"]);
        var e = Assert.Throws<CheckpointException>(() => Run(o with { ImageSize = null }));
        Assert.Contains("was written with --image-size 16, this run has no --image-size (the data set's own size)", e.Message);
        Assert.Equal(6, Run(o with { MaxSteps = 6 }).Steps);
    }

    [SkippableFact]
    public void AnotherEpochsOrBaseLrContinuesUnderTheNewScheduleAndSaysSo()
    {
        RequireFashionMnist();
        var o = Tiny("new-schedule");
        Run(o with { MaxSteps = 6 });
        var (result, said) = RunSaying(o with { Epochs = 4, BaseLr = 0.4 });
        Assert.Contains("resuming under changed settings (--epochs 3 -> 4, --base-lr 0.8 -> 0.4): the learning-rate schedule is the new one from step 6 on", said);
        Assert.Equal(16, result.Steps);
        Assert.Equal(10, result.Losses.Count);
        using var reader = new Vicreg.Engine.IO.SafetensorsReader(Path.Combine(o.ExpDir, Checkpoint.FileName));
        Assert.Equal("4", reader.Metadata["epochs"]);
        Assert.Equal("0.4", reader.Metadata["base_lr"]);
    }

    /// <summary>One step per epoch: the step after a resume computes a finite loss on good weights, and its
    /// update with an absurd learning rate makes them infinite just before the epoch's checkpoint.</summary>
    [SkippableFact]
    public void WeightsThatStopBeingFiniteNeverReplaceTheLastGoodCheckpoint()
    {
        RequireFashionMnist();
        var o = Tiny("diverged") with { Limit = 24, Epochs = 1 };
        Run(o);
        string checkpoint = Path.Combine(o.ExpDir, Checkpoint.FileName);
        byte[] good = File.ReadAllBytes(checkpoint);
        var e = Assert.Throws<Vicreg.Engine.IO.NonFiniteValuesException>(() => Run(o with { Epochs = 3, BaseLr = 1e300 }));
        Assert.Contains("stopped being finite by step 2", e.Message);
        Assert.Equal(good, File.ReadAllBytes(checkpoint));
    }

    [SkippableFact]
    public void ASecondRunOnAHeldFolderIsRefusedAndTheFolderIsFreeAfterwards()
    {
        RequireFashionMnist();
        var o = Tiny("held") with { MaxSteps = 1 };
        using (ExperimentFolder.Open(o.ExpDir, _ => { }))
        {
            var e = Assert.Throws<ExperimentFolderInUseException>(() => Run(o));
            Assert.Contains("another run is using", e.Message);
            Assert.False(File.Exists(Path.Combine(o.ExpDir, "stats.txt")));
            Assert.Throws<ExperimentFolderInUseException>(() => ExperimentFolder.Open(o.ExpDir, _ => { }));
        }
        Assert.Equal(1, Run(o).Steps);
        Assert.Equal(2, Run(o with { MaxSteps = 2 }).Steps); // the previous run released the folder
    }

    public void Dispose()
    {
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { }
    }
}
