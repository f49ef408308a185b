using Vicreg.Engine;
using Vicreg.Engine.IO;
using Vicreg.Engine.Optim;
using Vicreg.Engine.Models;
using Vicreg.Tests.Engine.IO;
using Vicreg.Training;

namespace Vicreg.Tests.App.Training;

/// <summary>Checkpoints written and then damaged here, field by field and byte by byte: every damage is refused
/// with a one-line exception the command turns into exit code 2, never a crash and never a silent resume.</summary>
public class CheckpointTests
{
    private const int StepsPerEpoch = 4;
    private static readonly PretrainOptions Options = new() { Width = 0.0625, Mlp = "16-16", Epochs = 3, BatchSize = 24, Limit = 96 };
    private static readonly CheckpointSettings Settings = Checkpoint.Settings(Options, 1, "cifar", 96);
    private static readonly TrainingPosition Position = new(1, 2, 6);

    /// <summary>A tiny model and its LARS optimizer, with random weights and momenta (never zeros).</summary>
    internal static (VicregModel Model, Optimizer Optimizer) Fresh(ulong seed)
    {
        var rng = new Rng(seed);
        var backbone = Backbones.Create("resnet18", ResNetStem.Cifar, Options.Width, 1, ref rng);
        var model = new VicregModel(backbone, Expander.Create(backbone.RepresentationSize, Options.Mlp, ref rng));
        var optimizer = new Lars(model.NamedParameters());
        foreach (var (_, momentum) in optimizer.State())
            momentum.CopyFrom<float>(Enumerable.Range(0, (int)momentum.Numel).Select(_ => (float)rng.NextNormal()).ToArray());
        return (model, optimizer);
    }

    internal static string Saved(TempFolder dir, ulong seed = 1)
    {
        var (model, optimizer) = Fresh(seed);
        string path = dir.File(Checkpoint.FileName);
        Checkpoint.Save(path, model, optimizer, Position, Settings);
        return path;
    }

    internal static ResumedCheckpoint Load(string path, ulong seed = 2)
    {
        var (model, optimizer) = Fresh(seed);
        return Checkpoint.Load(path, model, optimizer, Settings, StepsPerEpoch);
    }

    /// <summary>Rewrites a checkpoint with edited metadata or tensors and a fresh, valid checksum, so that what
    /// the test damages is the field itself.</summary>
    private static void Rewrite(string path, Action<Dictionary<string, string>>? metadata = null, Func<string, bool>? keep = null,
        Action<string, Tensor>? edit = null)
    {
        Dictionary<string, string> meta;
        List<(string, Tensor)> tensors;
        using (var r = new SafetensorsReader(path))
        {
            meta = new Dictionary<string, string>(r.Metadata);
            tensors = r.Entries.Where(e => keep?.Invoke(e.Name) ?? true).Select(e => (e.Name, r.ReadTensor(e.Name))).ToList();
        }
        meta.Remove(SafetensorsHeader.ChecksumKey);
        metadata?.Invoke(meta);
        foreach (var (name, tensor) in tensors) edit?.Invoke(name, tensor);
        SafetensorsWriter.Write(path, tensors, meta, checksum: true);
    }

    [Fact]
    public void ASavedCheckpointRestoresWeightsMomentaAndPosition()
    {
        using var dir = new TempFolder();
        var (model, optimizer) = Fresh(1);
        string path = dir.File(Checkpoint.FileName);
        Checkpoint.Save(path, model, optimizer, Position, Settings);
        var (copy, copyOptimizer) = Fresh(2);
        var resumed = Checkpoint.Load(path, copy, copyOptimizer, Settings, StepsPerEpoch);
        Assert.Equal(Position, resumed.Position);
        Assert.Equal(Settings.Schedule, resumed.Schedule);
        foreach (var ((_, a), (_, b)) in model.StateDict().Zip(copy.StateDict()))
            Assert.Equal(a.DType == DType.Int32 ? a.ToArray<int>().Select(v => (float)v) : a.ToArray<float>(),
                         b.DType == DType.Int32 ? b.ToArray<int>().Select(v => (float)v) : b.ToArray<float>());
        foreach (var ((_, a), (_, b)) in optimizer.State().Zip(copyOptimizer.State()))
            Assert.Equal(a.ToArray<float>(), b.ToArray<float>());
    }

    [Theory]
    [InlineData("step", "x", "'step' is 'x'")]
    [InlineData("step", "-1", "'step' is '-1'")]
    [InlineData("epoch", null, "has no 'epoch'")]
    [InlineData("epochs", "3.5", "'epochs' is '3.5'")]
    [InlineData("base_lr", null, "has no 'base_lr'")]
    [InlineData("batch", "999", "do not fit")]
    [InlineData("batch", "99999999999", "'batch' is '99999999999'")]
    [InlineData("epoch", "99999", "do not fit")]
    [InlineData("step", "7", "do not fit")]
    public void ADamagedOrMissingFieldIsRefused(string key, string? value, string expected)
    {
        using var dir = new TempFolder();
        string path = Saved(dir);
        Rewrite(path, meta =>
        {
            if (value is null) meta.Remove(key);
            else meta[key] = value;
        });
        var e = Assert.Throws<CheckpointException>(() => Load(path));
        Assert.Contains(expected, e.Message);
        Assert.Contains("damaged", e.Message);
    }

    [Fact]
    public void AMissingOptimizerTensorIsRefused()
    {
        using var dir = new TempFolder();
        string path = Saved(dir);
        string dropped = "optimizer.backbone.layer2.0.conv1.weight.mu";
        Rewrite(path, keep: name => name != dropped);
        var e = Assert.Throws<CheckpointException>(() => Load(path));
        Assert.Contains(dropped, e.Message);
    }

    [Fact]
    public void AnyFlippedDataByteIsRefused()
    {
        using var dir = new TempFolder();
        string path = Saved(dir);
        byte[] good = File.ReadAllBytes(path);
        long dataStart = 8 + (long)System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(good);
        var rng = new Rng(17);
        for (int trial = 0; trial < 8; trial++)
        {
            var bad = (byte[])good.Clone();
            long at = dataStart + (long)(rng.NextDouble() * (good.Length - dataStart));
            bad[at] ^= (byte)(1 << (trial % 8));
            File.WriteAllBytes(path, bad);
            var e = Assert.Throws<SafetensorsFormatException>(() => Load(path));
            Assert.Contains("does not match its checksum", e.Message);
        }
    }

    [Fact]
    public void NonFiniteWeightsAreNeverWrittenOverAGoodCheckpoint()
    {
        using var dir = new TempFolder();
        string path = Saved(dir);
        byte[] good = File.ReadAllBytes(path);
        var (model, optimizer) = Fresh(3);
        var weight = model.StateDict().First(p => p.Name == "backbone.layer1.0.conv2.weight").Tensor;
        var values = weight.ToArray<float>();
        values[values.Length / 2] = float.NaN;
        weight.CopyFrom<float>(values);
        var e = Assert.Throws<NonFiniteValuesException>(() => Checkpoint.Save(path, model, optimizer, Position with { Step = 7, Batch = 3 }, Settings));
        Assert.Contains("'model.backbone.layer1.0.conv2.weight' holds 1 NaN", e.Message);
        Assert.Equal(good, File.ReadAllBytes(path));
    }

    [Fact]
    public void ACheckpointWithNonFiniteMomentumIsRefused()
    {
        using var dir = new TempFolder();
        var (model, optimizer) = Fresh(4);
        string path = dir.File(Checkpoint.FileName);
        Checkpoint.Save(path, model, optimizer, Position, Settings);
        const string name = "optimizer.projector.0.weight.mu";
        Rewrite(path, edit: (tensorName, tensor) =>
        {
            if (tensorName != name) return;
            var v = tensor.ToArray<float>();
            v[0] = float.PositiveInfinity;
            tensor.CopyFrom<float>(v);
        });
        var e = Assert.Throws<NonFiniteValuesException>(() => Load(path));
        Assert.Contains(name, e.Message);
    }

    [Fact]
    public void ScheduleChangesAreNamedInOneLine()
    {
        var changed = Checkpoint.Settings(Options with { Epochs = 10, BaseLr = 0.4 }, 1, "cifar", 96);
        Assert.Null(Checkpoint.ScheduleChanges(Settings.Schedule, Settings, 6));
        string line = Checkpoint.ScheduleChanges(Settings.Schedule, changed, 6)!;
        Assert.Contains("--epochs 3 -> 10", line);
        Assert.Contains("--base-lr 0.2 -> 0.4", line);
        Assert.DoesNotContain("warmup", line);
        Assert.DoesNotContain('\n', line);
    }
}
