using System.Globalization;
using Vicreg.Engine;
using Vicreg.Engine.IO;
using Vicreg.Engine.Nn;
using Vicreg.Engine.Optim;

namespace Vicreg.Training;

/// <summary>Where a run stands: the next epoch to run, the next batch within it, and the global step.</summary>
public readonly record struct TrainingPosition(int Epoch, int Batch, long Step);

/// <summary>The settings a checkpoint records: <see cref="Fixed"/> ones a resumed run must share (another value
/// is refused), and <see cref="Schedule"/> ones it may change (the run continues under the new values and says so).</summary>
public sealed record CheckpointSettings(IReadOnlyDictionary<string, string> Fixed, IReadOnlyDictionary<string, string> Schedule);

/// <summary>What a checkpoint held besides the tensors: where to continue, the schedule it was written under, and
/// every metadata entry (a fine-tuning run keeps its best epoch there).</summary>
public sealed record ResumedCheckpoint(TrainingPosition Position, IReadOnlyDictionary<string, string> Schedule, IReadOnlyDictionary<string, string> Metadata);

/// <summary>
/// A training checkpoint (pretraining, fine-tuning): one safetensors file holding the model's state dict under "model.",
/// each optimizer momentum buffer under "optimizer.&lt;parameter&gt;.mu", and, as metadata, the position
/// (epoch, batch, step), the settings (<see cref="CheckpointSettings"/>) and the SHA-256 of the data. The
/// writer goes through a temporary file and a rename, so an interrupted save never replaces a good
/// checkpoint, and refuses weights that are no longer finite. Loading checks everything before it is used:
/// the checksum, every field's presence and type, the position against the run's length, every tensor.
/// </summary>
public static class Checkpoint
{
    public const string FileName = "checkpoint.safetensors";
    private const string Format = "vicreg-checkpoint-2";
    private const string OlderFormat = "vicreg-checkpoint-1";

    public static CheckpointSettings Settings(PretrainOptions o, int inChannels, string stem, int images) => new(
        new Dictionary<string, string>
        {
            [LossKey] = o.Loss,
            ["arch"] = o.Arch,
            ["stem"] = stem,
            ["width"] = Text(o.Width),
            ["mlp"] = o.Mlp,
            ["in_channels"] = Text(inChannels),
            ["dataset"] = o.Dataset,
            ["batch_size"] = Text(o.BatchSize),
            [CropScaleKey] = o.CropScaleMin is double scale ? Text(scale) : Recipe,
            [ImageSizeKey] = o.ImageSize is int size ? Text(size) : Recipe,
            ["seed"] = Text(o.Seed),
            ["limit"] = Text(o.Limit),
            [ImagesKey] = Text(images),
        },
        o.Loss == PretrainOptions.BarlowTwins
            ? new Dictionary<string, string>
            {
                [EpochsKey] = Text(o.Epochs),
                ["warmup_epochs"] = Text(o.WarmupEpochs),
                ["learning_rate_weights"] = Text(o.LearningRateWeights),
                ["learning_rate_biases"] = Text(o.LearningRateBiases),
            }
            : new Dictionary<string, string>
            {
                [EpochsKey] = Text(o.Epochs),
                ["warmup_epochs"] = Text(o.WarmupEpochs),
                ["base_lr"] = Text(o.BaseLr),
            });

    private const string LossKey = "loss";
    /// <summary>What a fixed setting absent from a checkpoint stands for: checkpoints written before --loss existed are VICReg's.</summary>
    private static readonly Dictionary<string, string> s_absentMeans = new() { [LossKey] = PretrainOptions.Vicreg, [CropScaleKey] = Recipe, [ImageSizeKey] = Recipe };
    private const string CropScaleKey = "crop_scale_min";
    private const string ImageSizeKey = "image_size";
    /// <summary>A crop setting left to the data set's recipe (also what checkpoints written before --crop-scale-min and
    /// --image-size were recorded as carrying, though an image folder's run could then pass --image-size unrecorded).</summary>
    private const string Recipe = "recipe";
    private const string ImagesKey = "images";
    private const string EpochsKey = "epochs";

    /// <summary>Writes the checkpoint; <paramref name="extra"/> entries join the metadata (a run's own records, such as its best epoch).</summary>
    public static void Save(string path, Module model, Optimizer optimizer, TrainingPosition position, CheckpointSettings settings,
        IReadOnlyDictionary<string, string>? extra = null)
    {
        var tensors = model.StateDict("model.").Concat(optimizer.State().Select(s => ("optimizer." + s.Name + ".mu", s.Momentum))).ToList();
        FiniteCheck.Require(tensors, (name, count) =>
            $"the weights stopped being finite by step {position.Step} ('{name}' holds {count} NaN or infinite values); " +
            (File.Exists(path) ? $"{path} keeps the last good state" : "no checkpoint was written") + ": lower --base-lr or check the data");
        var metadata = new Dictionary<string, string>(settings.Fixed.Concat(settings.Schedule))
        {
            ["format"] = Format,
            ["epoch"] = Text(position.Epoch),
            ["batch"] = Text(position.Batch),
            ["step"] = Text(position.Step),
        };
        foreach (var (key, value) in extra ?? new Dictionary<string, string>()) metadata[key] = value;
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!); // the folder may have been removed during the run
        SafetensorsWriter.Write(path, tensors, metadata, checksum: true);
    }

    /// <summary>Restores model and optimizer from <paramref name="path"/>. A checkpoint written with other fixed
    /// settings is refused with a line naming the first difference; a damaged one with a line saying what is wrong.</summary>
    public static ResumedCheckpoint Load(string path, Module model, Optimizer optimizer, CheckpointSettings settings, int stepsPerEpoch)
    {
        using var reader = new SafetensorsReader(path);
        var meta = reader.Metadata;
        meta.TryGetValue("format", out var format);
        if (format == OlderFormat)
            throw new CheckpointException($"{path} was written by an older vicreg (without a checksum); use another --exp-dir");
        if (format != Format)
            throw new CheckpointException($"{path} is not a vicreg training checkpoint");
        foreach (var (key, value) in settings.Fixed)
        {
            string? saved = meta.TryGetValue(key, out var recorded) ? recorded : s_absentMeans.GetValueOrDefault(key);
            if (saved != value)
                throw new CheckpointException($"{path} was written with {Describe(key, saved)}, this run has {Describe(key, value)}: use another --exp-dir or the same settings");
        }
        var schedule = settings.Schedule.Keys.ToDictionary(key => key, key => Field(path, meta, key));
        var position = ReadPosition(path, meta, stepsPerEpoch, (int)WholeNumber(path, meta, EpochsKey, int.MaxValue));
        reader.VerifyChecksum();

        var missing = optimizer.State().Select(s => "optimizer." + s.Name + ".mu").Where(name => !reader.Contains(name)).ToList();
        if (missing.Count > 0)
            throw new CheckpointException($"{path} is damaged: it lacks the optimizer state of {missing.Count} parameter{(missing.Count == 1 ? "" : "s")} ({missing[0]}{(missing.Count > 1 ? ", ..." : "")})");
        StateDictFile.Load(model, reader, prefix: "model.");
        var momenta = optimizer.State().Select(s => ("optimizer." + s.Name + ".mu", s.Momentum)).ToList();
        foreach (var (name, momentum) in momenta) reader.ReadInto(name, momentum);
        FiniteCheck.Require(momenta, (name, count) =>
            $"{path}: tensor '{name}' holds {count} non-finite value{(count == 1 ? "" : "s")} (NaN or infinity); this checkpoint cannot be resumed");
        return new ResumedCheckpoint(position, schedule, meta);
    }

    /// <summary>One line naming the schedule settings a resumed run changes, or null when it changes none.</summary>
    public static string? ScheduleChanges(IReadOnlyDictionary<string, string> saved, CheckpointSettings now, long step)
    {
        var changed = now.Schedule.Where(p => saved[p.Key] != p.Value).Select(p => $"{Flag(p.Key)} {saved[p.Key]} -> {p.Value}").ToList();
        return changed.Count == 0 ? null
            : $"resuming under changed settings ({string.Join(", ", changed)}): the learning-rate schedule is the new one from step {step} on";
    }

    /// <summary>The position must be one this run can reach: batch inside an epoch, epoch within the run the
    /// checkpoint was written for, and the step count they imply.</summary>
    private static TrainingPosition ReadPosition(string path, IReadOnlyDictionary<string, string> meta, int stepsPerEpoch, int savedEpochs)
    {
        int epoch = (int)WholeNumber(path, meta, "epoch", int.MaxValue);
        int batch = (int)WholeNumber(path, meta, "batch", int.MaxValue);
        long step = WholeNumber(path, meta, "step", long.MaxValue);
        if (batch >= stepsPerEpoch || epoch > savedEpochs || (epoch == savedEpochs && batch != 0) || step != (long)epoch * stepsPerEpoch + batch)
            throw new CheckpointException($"{path} is damaged: epoch {epoch}, batch {batch} and step {step} do not fit a run of {savedEpochs} epochs of {stepsPerEpoch} steps");
        return new TrainingPosition(epoch, batch, step);
    }

    private static string Field(string path, IReadOnlyDictionary<string, string> meta, string key) =>
        meta.TryGetValue(key, out var value) ? value : throw new CheckpointException($"{path} is damaged: it has no '{key}'");

    private static long WholeNumber(string path, IReadOnlyDictionary<string, string> meta, string key, long max)
    {
        string value = Field(path, meta, key);
        if (!long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out long n) || n > max)
            throw new CheckpointException($"{path} is damaged: its '{key}' is '{value}', not a whole number in range");
        return n;
    }

    private static string Flag(string key) => "--" + key.Replace('_', '-');

    private static string Describe(string key, string? value) => key switch
    {
        ImagesKey => $"{value ?? "(unset)"} training images",
        CropScaleKey when value == Recipe => $"no {Flag(key)} (the data set's recipe)",
        ImageSizeKey when value == Recipe => $"no {Flag(key)} (the data set's own size)",
        _ => $"{Flag(key)} {value ?? "(unset)"}",
    };

    private static string Text(double v) => v.ToString("R", CultureInfo.InvariantCulture);
    private static string Text(long v) => v.ToString(CultureInfo.InvariantCulture);
    private static string Text(ulong v) => v.ToString(CultureInfo.InvariantCulture);
}

/// <summary>A checkpoint that cannot be used for this run (another architecture, another format, damaged).</summary>
public sealed class CheckpointException(string message) : Exception(message);
