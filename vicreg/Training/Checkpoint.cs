using System.Globalization;
using Vicreg.Engine;
using Vicreg.Engine.IO;
using Vicreg.Engine.Optim;

namespace Vicreg.Training;

/// <summary>Where a run stands: the next epoch to run, the next batch within it, and the global step.</summary>
public readonly record struct TrainingPosition(int Epoch, int Batch, long Step);

/// <summary>
/// A pretraining checkpoint: one safetensors file holding the model's state dict under "model.",
/// each LARS momentum buffer under "optimizer.&lt;parameter&gt;.mu", and, as metadata, the position
/// (epoch, batch, step) and the settings that must not change on resume. The writer goes through a
/// temporary file and a rename, so an interrupted save never replaces a good checkpoint.
/// </summary>
public static class Checkpoint
{
    public const string FileName = "checkpoint.safetensors";
    private const string Format = "vicreg-checkpoint-1";

    /// <summary>The settings a resumed run must share with the run that wrote the checkpoint.</summary>
    public static Dictionary<string, string> Identity(PretrainOptions o, int inChannels, string stem) => new()
    {
        ["arch"] = o.Arch,
        ["stem"] = stem,
        ["width"] = o.Width.ToString("R", CultureInfo.InvariantCulture),
        ["mlp"] = o.Mlp,
        ["in_channels"] = inChannels.ToString(CultureInfo.InvariantCulture),
        ["dataset"] = o.Dataset,
        ["batch_size"] = o.BatchSize.ToString(CultureInfo.InvariantCulture),
        ["seed"] = o.Seed.ToString(CultureInfo.InvariantCulture),
    };

    public static void Save(string path, VicregModel model, Optimizer optimizer, TrainingPosition position, Dictionary<string, string> identity)
    {
        var metadata = new Dictionary<string, string>(identity)
        {
            ["format"] = Format,
            ["epoch"] = position.Epoch.ToString(CultureInfo.InvariantCulture),
            ["batch"] = position.Batch.ToString(CultureInfo.InvariantCulture),
            ["step"] = position.Step.ToString(CultureInfo.InvariantCulture),
        };
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!); // the folder may have been removed during the run
        var tensors = model.StateDict("model.").Concat(optimizer.State().Select(s => ("optimizer." + s.Name + ".mu", s.Momentum)));
        SafetensorsWriter.Write(path, tensors, metadata);
    }

    /// <summary>Restores model and optimiser from <paramref name="path"/> and returns where to continue.
    /// A checkpoint written with other settings is refused with a line naming the first difference.</summary>
    public static TrainingPosition Load(string path, VicregModel model, Optimizer optimizer, Dictionary<string, string> identity)
    {
        using var reader = new SafetensorsReader(path);
        var meta = reader.Metadata;
        if (!meta.TryGetValue("format", out var format) || format != Format)
            throw new CheckpointException($"{path} is not a vicreg pretraining checkpoint");
        foreach (var (key, value) in identity)
            if (!meta.TryGetValue(key, out var saved) || saved != value)
                throw new CheckpointException($"{path} was written with --{key.Replace('_', '-')} {saved ?? "(unset)"}, this run has {value}: use another --exp-dir or the same settings");
        StateDictFile.Load(model, reader, prefix: "model.");
        foreach (var (name, momentum) in optimizer.State())
            reader.ReadInto("optimizer." + name + ".mu", momentum);
        return new TrainingPosition(
            int.Parse(meta["epoch"], CultureInfo.InvariantCulture),
            int.Parse(meta["batch"], CultureInfo.InvariantCulture),
            long.Parse(meta["step"], CultureInfo.InvariantCulture));
    }
}

/// <summary>A checkpoint that cannot be used for this run (another architecture, another format).</summary>
public sealed class CheckpointException(string message) : Exception(message);
