using System.Text.Json;
using Vicreg.Engine;
using Vicreg.Engine.Data.Datasets;
using Vicreg.Engine.IO;
using Vicreg.Engine.Models;
using Vicreg.Training;

namespace Vicreg.Tests.App.Training;

/// <summary>`pretrain --loss barlowtwins` end to end on the first images of Fashion-MNIST: stats.txt carries the Barlow
/// Twins terms, both groups' learning rates and the collapse diagnostics; a stopped run resumes exactly; a checkpoint of
/// the other loss is refused in one line. And the optimizer's two parameter groups.</summary>
public class BarlowTwinsPretrainTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "vicreg-barlow-tests-" + Guid.NewGuid().ToString("N"));

    private static void RequireFashionMnist() =>
        Skip.IfNot(Directory.Exists(IdxDataset.DefaultFashionMnistPath()),
            $"skipped: Fashion-MNIST not installed at {IdxDataset.DefaultFashionMnistPath()} (tools/install-deps.sh installs it)");

    private PretrainOptions Tiny(string name) => PretrainOptions.For(PretrainOptions.BarlowTwins) with
    {
        ExpDir = Path.Combine(_root, name), Width = 0.125, Mlp = "64-64", Limit = 96, BatchSize = 24, Epochs = 3, WarmupEpochs = 1,
        LearningRateWeights = 2, NumWorkers = 2, Device = "cpu", Seed = 5, LogFreqTime = 0,
    };

    private static PretrainResult Run(PretrainOptions o) => new Pretrainer(o, "vicreg pretrain --loss barlowtwins (test)", TextWriter.Null).Run();

    [SkippableFact]
    public void StatsCarryTheBarlowTwinsTermsAndAStoppedRunResumesExactly()
    {
        RequireFashionMnist();
        var whole = Run(Tiny("whole"));
        Assert.Equal(12, whole.Steps);
        Assert.True(whole.Losses.TakeLast(3).Average() < whole.Losses.Take(3).Average(), $"loss did not fall: {string.Join(", ", whole.Losses)}");

        var lines = File.ReadAllLines(Path.Combine(_root, "whole", "stats.txt"));
        Assert.StartsWith("vicreg pretrain --loss barlowtwins", lines[0]);
        var o = Tiny("whole");
        foreach (var line in lines.Skip(1))
        {
            var json = JsonDocument.Parse(line).RootElement;
            double on = json.GetProperty("on_diagonal").GetDouble(), off = json.GetProperty("off_diagonal").GetDouble();
            Assert.Equal(on + o.Lambd * off, json.GetProperty("loss").GetDouble(), 12);
            double lrWeights = json.GetProperty("lr_weights").GetDouble(), lrBiases = json.GetProperty("lr_biases").GetDouble();
            Assert.Equal(o.LearningRateBiases * lrWeights, o.LearningRateWeights * lrBiases, 12); // 0 = 0 at the first step
            foreach (var key in (string[])["embedding_std", "rankme_representation", "rankme_embedding"])
                Assert.True(json.GetProperty(key).GetDouble() > 0, $"{key} missing or not positive in {line}");
            Assert.False(json.TryGetProperty("invariance", out _), line);
            Assert.False(json.TryGetProperty("lr", out _), line);
        }
        Assert.Contains(lines.Skip(1), l => JsonDocument.Parse(l).RootElement.GetProperty("lr_weights").GetDouble() > 0);
        Assert.True(File.Exists(Path.Combine(_root, "whole", "backbone.safetensors")));

        var interrupted = Tiny("resumed");
        var firstPart = Run(interrupted with { MaxSteps = 5 });
        Assert.Equal(5, firstPart.Steps);
        var secondPart = Run(interrupted);
        var resumed = firstPart.Losses.Concat(secondPart.Losses).ToArray();
        Assert.Equal(whole.Losses.Count, resumed.Length);
        for (int i = 0; i < resumed.Length; i++)
            Assert.True(whole.Losses[i] == resumed[i], $"step {i + 1}: uninterrupted {whole.Losses[i]:R}, resumed {resumed[i]:R}");
    }

    [SkippableTheory]
    [InlineData(PretrainOptions.Vicreg, PretrainOptions.BarlowTwins)]
    [InlineData(PretrainOptions.BarlowTwins, PretrainOptions.Vicreg)]
    public void ACheckpointOfTheOtherLossIsRefused(string written, string resumed)
    {
        RequireFashionMnist();
        var o = Tiny("other-" + written);
        Run(o with { Loss = written, MaxSteps = 2 });
        var e = Assert.Throws<CheckpointException>(() => Run(o with { Loss = resumed }));
        Assert.Contains($"was written with --loss {written}, this run has --loss {resumed}", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [SkippableFact]
    public void AVicregCheckpointWrittenBeforeLossWasRecordedStillResumes()
    {
        RequireFashionMnist();
        var o = Tiny("older") with { Loss = PretrainOptions.Vicreg };
        Run(o with { MaxSteps = 2 });
        string path = Path.Combine(o.ExpDir, Checkpoint.FileName);
        using (TensorScope.Begin())
        {
            List<(string, Tensor)> tensors;
            Dictionary<string, string> metadata;
            using (var reader = new SafetensorsReader(path))
            {
                tensors = reader.Entries.Select(e => (e.Name, reader.ReadTensor(e.Name))).ToList();
                metadata = reader.Metadata.Where(m => m.Key is not ("loss" or SafetensorsHeader.ChecksumKey)).ToDictionary();
            }
            SafetensorsWriter.Write(path, tensors, metadata, checksum: true);
        }
        Assert.Equal(12, Run(o).Steps);
        var e = Assert.Throws<CheckpointException>(() => Run(Tiny("older")));
        Assert.Contains("was written with --loss vicreg, this run has --loss barlowtwins", e.Message);
    }

    [Fact]
    public void WeightsAndBiasesStepWithTheirOwnLearningRates()
    {
        var rng = new Rng(3);
        var backbone = Backbones.Create("resnet18", ResNetStems.Parse("cifar"), 0.0625, 1, ref rng);
        var o = PretrainOptions.For(PretrainOptions.BarlowTwins) with { LearningRateWeights = 0.3, LearningRateBiases = 0.007 };
        var objective = PretrainObjective.For(o);
        var model = new VicregModel(backbone, Expander.Create(backbone.RepresentationSize, "16-16-8", ref rng, hiddenBias: objective.ExpanderHiddenBias));
        var optimizer = objective.CreateOptimizer(model);
        foreach (var (name, p) in model.NamedParameters())
            Assert.Equal(p.Rank == 1 ? 0.007 * 0.5 : 0.3 * 0.5, optimizer.LearningRateOf(name, 0.5), 15);
        // Both groups are populated, by the official rule (ndim == 1 with the biases).
        Assert.Equal(0.3 * 0.5, optimizer.LearningRateOf("projector.0.weight", 0.5), 15);
        Assert.Equal(0.007 * 0.5, optimizer.LearningRateOf("projector.1.weight", 0.5), 15);  // batch-norm scale
        Assert.Equal(0.007 * 0.5, optimizer.LearningRateOf("backbone.bn1.bias", 0.5), 15);
        Assert.Equal(0.3 * 0.5, optimizer.LearningRateOf("backbone.conv1.weight", 0.5), 15);
        Assert.Equal(24 / 256.0, PretrainObjective.For(o with { BatchSize = 24 }).PeakLearningRate);

        // VICReg keeps one learning rate for every parameter, peaking at --base-lr x batch / 256.
        var vicreg = PretrainObjective.For(PretrainOptions.For(PretrainOptions.Vicreg) with { BatchSize = 24 });
        var vicregOptimizer = vicreg.CreateOptimizer(model);
        Assert.All(model.NamedParameters(), p => Assert.Equal(0.5, vicregOptimizer.LearningRateOf(p.Name, 0.5)));
        Assert.Equal(0.2 * 24 / 256, vicreg.PeakLearningRate);
    }

    public void Dispose()
    {
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { }
    }
}
