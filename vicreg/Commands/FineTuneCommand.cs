using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using Vicreg.Augment;
using Vicreg.Training;

namespace Vicreg.Commands;

/// <summary>
/// `vicreg finetune`: semi-supervised fine-tuning as the official evaluate.py --weights finetune (<see cref="FineTuner"/>)
/// on a class-balanced, seeded label subset (<see cref="LabelSubset"/>, written to --exp-dir and reusable with
/// --train-files). The learning rates default to the official semi-supervised values for the chosen subset.
/// The weights, data and backbone flags are those of the frozen-backbone evaluations (<see cref="FrozenEvaluationInputs"/>).
/// </summary>
public sealed class FineTuneCommand : ICommand
{
    public string Name => "finetune";
    public string Summary => "fine-tune backbone and head on 1% / 10% / 100% of the labels and report top-1 / top-5";

    /// <summary>The official semi-supervised values (VICReg README): 1%: backbone 0.03, head 0.08; 10%: 0.01, 0.1;
    /// weight decay 0. The official gives none for 100%; we take the 10% ones.</summary>
    public static (double LrBackbone, double LrHead) DefaultLearningRates(int percent) => percent == 1 ? (0.03, 0.08) : (0.01, 0.1);

    public int Run(Arguments a, string commandLine)
    {
        var inputs = FrozenEvaluationInputs.Parse(a, Name, ", the head's initialization, the label subset, the shuffling and the augmentations");
        string? percentText = a.OptionalString("train-perc", "percentage of the training labels: 1, 10 or 100 (class-balanced, seeded by --seed; default 100 without --train-files)");
        string? trainFiles = a.OptionalString("train-files", $"a label subset list ({LabelSubset.FileName} of an earlier run) instead of drawing one");
        int epochs = a.Int("epochs", 20, "fine-tuning epochs", 1);
        string? lrBackboneText = a.OptionalString("lr-backbone", "backbone learning rate (default: 0.03 for 1%, 0.01 for 10% and 100%)");
        string? lrHeadText = a.OptionalString("lr-head", "head learning rate (default: 0.08 for 1%, 0.1 for 10% and 100%)");
        double weightDecay = a.Double("wd", 0, "SGD weight decay on every parameter (the official semi-supervised value: 0)", 0);
        string expDir = a.String("exp-dir", "./finetune", $"experiment folder: {LabelSubset.FileName}, stats.txt (one line per epoch), checkpoint.safetensors");
        int maxSteps = a.Int("max-steps", 0, "stop after this many steps in total, saving a checkpoint (0 = all epochs; for tests)", 0);
        if (a.HelpRequested)
        {
            Console.WriteLine(a.Usage(Summary + ".\n" +
                "As the official evaluate.py --weights finetune: backbone and a Linear head (N(0, 0.01) weights, zero bias) train together, batch norm in train mode; " +
                "SGD momentum 0.9, the two learning rates on one cosine schedule stepped per epoch (T_max = --epochs); training images get a random resized crop (scale 0.08-1) and a flip, " +
                "test images the evaluation transform. --weights random trains the same network from random init (the supervised baseline).\n" +
                $"The label subset takes round(p% of each class) (at least 1) by a seeded draw and is written to --exp-dir/{LabelSubset.FileName}; --train-files reuses such a list " +
                "(without --train-perc, the learning-rate defaults follow the share of the images it lists: up to 5% the 1% values, else the 10% ones).\n" +
                "After every epoch the model is measured on the test split; the result reports the last epoch and the best one. There is no separate validation split: " +
                "like the official report (best on ImageNet's val set), 'best' is chosen on the test split itself, so it is optimistic; 'last' is not chosen.\n" +
                "A checkpoint is written after every epoch; Ctrl-C saves one after the current step, and the same command resumes."));
            return 0;
        }
        a.RejectUnknown();
        inputs = inputs.Validate();
        if (inputs.Weights == "pixels") throw new UsageException("finetune: --weights pixels has no backbone to fine-tune (use a weights file, or 'random' for the supervised baseline)");
        int? percent = percentText switch
        {
            null => null,
            "1" => 1,
            "10" => 10,
            "100" => 100,
            _ => throw new UsageException($"finetune: --train-perc must be 1, 10 or 100, got '{percentText}'"),
        };
        if (percent is not null && trainFiles is not null) throw new UsageException("finetune: give --train-perc or --train-files, not both");
        if (string.IsNullOrWhiteSpace(expDir)) throw new UsageException("finetune: --exp-dir must name a folder, got an empty string");
        double? lrBackbone = ParseRate(lrBackboneText, "lr-backbone"), lrHead = ParseRate(lrHeadText, "lr-head");

        using var stop = new CancellationTokenSource();
        FineTuner? tuner = null;
        using var interrupts = new InterruptHandler(() => tuner?.RequestStop(), "interrupt: finishing the current step and saving a checkpoint (Ctrl-C again to abort)");
        var result = CommandErrors.Guard(() =>
        {
            var opened = inputs.Open();
            var full = opened.TrainSet;
            var indices = trainFiles is not null ? LabelSubset.Read(trainFiles, full) : LabelSubset.Select(full, percent ?? 100, inputs.Seed);
            int share = percent ?? (indices.Length * 100 <= full.Count * 5 ? 1 : 10);
            var defaults = DefaultLearningRates(share);
            var s = new FineTuneSettings(epochs, opened.BatchSize, lrBackbone ?? defaults.LrBackbone, lrHead ?? defaults.LrHead, weightDecay, inputs.Seed,
                inputs.Workers, inputs.Strict, maxSteps, expDir);
            var train = new IndexedSubset(full, indices);
            if (train.Count < 2) throw new Engine.Data.DatasetException($"finetune: the label subset holds {train.Count} image; batch norm in train mode needs at least 2");
            Directory.CreateDirectory(expDir);
            string source = trainFiles is not null ? $"the list {trainFiles}" : $"{percent ?? 100}% of each class, seed {inputs.Seed}";
            LabelSubset.Write(Path.Combine(expDir, LabelSubset.FileName), full, indices, $"{opened.Train.Name} training split, {source}");
            var backbone = opened.Backbone!;
            var model = new ClassifierModel(backbone, FineTuner.Head(backbone.RepresentationSize, opened.Classes, inputs.Seed, opened.Backend));
            Console.WriteLine($"finetune: {inputs.Arch} (width {inputs.Width}, {model.ParameterCount():N0} parameters) from {inputs.WeightsLabel} on {train.Count} labelled {opened.Train.Name} images " +
                              $"({source}), {epochs} epochs, batch {s.BatchSize}, lr backbone {s.LrBackbone} head {s.LrHead}, wd {s.WeightDecay}; test: {opened.TestSet.Count} images; on {opened.Backend.Name}");
            var checkpointSettings = Settings(inputs, opened, s, indices);
            var trainTransform = VicregAugmentations.LinearTrain(opened.Train.ImageSize, opened.Train.Normalization);
            tuner = new FineTuner(s, Console.Out);
            var clock = Stopwatch.StartNew();
            var r = tuner.Run(model, train, trainTransform, opened.TestSet, opened.Train.Evaluation, opened.Backend, checkpointSettings, commandLine, stop.Token);
            if (r.Interrupted) return r;
            if (r.Last is not { } last || last.Epoch != epochs - 1 || r.Best is not { } best)
            {
                Console.WriteLine($"stopped at step {r.Steps} (--max-steps {maxSteps}) before the last epoch; the same command without it resumes");
                return r;
            }
            string summary = $"finetune {inputs.WeightsLabel} on {train.Count} labels: last (epoch {last.Epoch + 1}/{epochs}) top-1 {last.Accuracy.Top1:F2}%  top-5 {last.Accuracy.Top5:F2}%;  " +
                             $"best (epoch {best.Epoch + 1}, chosen on the test split) top-1 {best.Accuracy.Top1:F2}%  top-5 {best.Accuracy.Top5:F2}%  ({ProgressLine.Format(clock.Elapsed)})";
            Console.WriteLine(summary);
            StatsLog.WriteResult(expDir, "finetune.txt", commandLine, json =>
            {
                json.WriteString("weights", inputs.Weights);
                json.WriteNumber("train_images", train.Count);
                json.WriteNumber("epochs_run", last.Epoch + 1);
                json.WriteNumber("last_top1", last.Accuracy.Top1);
                json.WriteNumber("last_top5", last.Accuracy.Top5);
                json.WriteNumber("best_epoch", best.Epoch + 1);
                json.WriteNumber("best_top1", best.Accuracy.Top1);
                json.WriteNumber("best_top5", best.Accuracy.Top5);
                json.WriteNumber("seconds", Math.Round(clock.Elapsed.TotalSeconds, 1));
            });
            return r;
        });
        return result.Interrupted ? interrupts.ExitCode : 0;
    }

    private static double? ParseRate(string? text, string flag)
    {
        if (text is null) return null;
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) || !double.IsFinite(v))
            throw new UsageException($"finetune: --{flag} wants a number, got '{text}'");
        if (v < 0) throw new UsageException($"finetune: --{flag} must be at least 0, got {text}");
        return v;
    }

    /// <summary>What a resumed run must share (the network, data, subset and batches) and what it may change (the schedule).</summary>
    private static CheckpointSettings Settings(FrozenEvaluationInputs inputs, FrozenEvaluation opened, FineTuneSettings s, int[] indices)
    {
        static string Text(double v) => v.ToString("R", CultureInfo.InvariantCulture);
        var subsetHash = Convert.ToHexStringLower(SHA256.HashData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(indices.AsSpan())))[..16];
        return new CheckpointSettings(
            new Dictionary<string, string>
            {
                ["task"] = "finetune",
                ["weights"] = inputs.WeightsLabel,
                ["arch"] = inputs.Arch,
                ["width"] = Text(inputs.Width),
                ["dataset"] = opened.Train.Name,
                ["train_files"] = subsetHash,
                ["batch_size"] = s.BatchSize.ToString(CultureInfo.InvariantCulture),
                ["seed"] = inputs.Seed.ToString(CultureInfo.InvariantCulture),
            },
            new Dictionary<string, string>
            {
                ["epochs"] = s.Epochs.ToString(CultureInfo.InvariantCulture),
                ["lr_backbone"] = Text(s.LrBackbone),
                ["lr_head"] = Text(s.LrHead),
                ["wd"] = Text(s.WeightDecay),
            });
    }
}
