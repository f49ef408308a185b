using System.Diagnostics;
using System.Globalization;
using Vicreg.Engine.Inference;
using Vicreg.Engine;
using Vicreg.Engine.Autograd;
using Vicreg.Engine.Data;
using Vicreg.Engine.Nn;
using Vicreg.Engine.Optim;

namespace Vicreg.Training;

/// <summary>How a fine-tuning run trains (the official evaluate.py --weights finetune flags).</summary>
public sealed record FineTuneSettings(int Epochs, int BatchSize, double LrBackbone, double LrHead, double WeightDecay, ulong Seed,
    int Workers, bool Strict, long MaxSteps, string ExpDir);

/// <summary>Test accuracy after one epoch (0-based).</summary>
public readonly record struct EpochAccuracy(int Epoch, ProbeAccuracy Accuracy);

/// <summary>What a fine-tuning run ended with: the best epoch by test top-1 (the official report, chosen on the
/// split it is reported on), the last epoch's, the steps, and the per-step losses of this process.</summary>
public sealed record FineTuneResult(EpochAccuracy? Best, EpochAccuracy? Last, long Steps, bool Interrupted, IReadOnlyList<double> Losses);

/// <summary>
/// Semi-supervised fine-tuning as the official evaluate.py with --weights finetune: the backbone and a
/// Linear(representation, classes) head (weights N(0, 0.01), zero bias) train together, batch norm in train mode,
/// cross-entropy, SGD with momentum 0.9 and weight decay on every parameter, two learning rates (backbone and
/// head, torch's param_groups) following one cosine schedule stepped per epoch (CosineAnnealingLR, T_max = epochs).
/// After every epoch the model (eval mode) is measured on the test split and a checkpoint written; Ctrl-C saves
/// one after the current step, and the same command resumes and reproduces the uninterrupted run.
/// </summary>
public sealed class FineTuner(FineTuneSettings settings, TextWriter output)
{
    private volatile bool _stopRequested;

    /// <summary>Asks the loop to stop after the current step and save a checkpoint.</summary>
    public void RequestStop() => _stopRequested = true;

    /// <summary>The head of the official evaluation: N(0, 0.01) weights, zero bias, drawn from <paramref name="seed"/>.</summary>
    public static Linear Head(int representation, int classes, ulong seed, IBackend backend)
    {
        var rng = Rng.ForKey(seed, 0x4EAD);
        var head = new Linear(representation, classes, bias: true, ref rng, backend: backend);
        Init.Normal(head.Weight, 0, 0.01, ref rng);
        backend.Fill(head.Bias!, 0);
        return head;
    }

    /// <summary>The optimizer: SGD momentum 0.9, one weight decay, the head at lr-head and the backbone at lr-backbone
    /// times the schedule's factor (<see cref="Optimizer.Step"/> takes the factor).</summary>
    public static Sgd Optimizer(ClassifierModel model, FineTuneSettings s) =>
        new(model.NamedParameters(), momentum: 0.9, weightDecay: s.WeightDecay,
            learningRateScale: (name, _) => ClassifierModel.IsHead(name) ? s.LrHead : s.LrBackbone);

    public FineTuneResult Run(ClassifierModel model, IImageDataset train, IImageTransform trainTransform, IImageDataset test,
        IImageTransform evaluation, IBackend backend, CheckpointSettings checkpointSettings, string commandLine, CancellationToken cancel = default)
    {
        var s = settings;
        int classes = train.Classes.Count;
        var optimizer = Optimizer(model, s);
        var schedule = new CosineEpochSchedule(1.0, s.Epochs);
        // Batch norm in train mode cannot normalize a batch of one: such a last batch is dropped (torch would fail on it).
        using var loader = new DataLoader(train, [trainTransform], new DataLoaderOptions
        {
            BatchSize = s.BatchSize, Shuffle = true, DropLast = train.Count % s.BatchSize == 1, NumWorkers = s.Workers, Seed = s.Seed, Strict = s.Strict,
        });
        int stepsPerEpoch = loader.BatchesPerEpoch;

        using var folder = ExperimentFolder.Open(s.ExpDir, output.WriteLine);
        string checkpointPath = Path.Combine(s.ExpDir, Checkpoint.FileName);
        var position = new TrainingPosition(0, 0, 0);
        EpochAccuracy? best = null, last = null;
        var partial = new EpochLoss(0, 0); // the loss so far of an epoch a checkpoint interrupted
        bool Finished(TrainingPosition p) => p.Epoch >= s.Epochs || (s.MaxSteps > 0 && p.Step >= s.MaxSteps);
        if (File.Exists(checkpointPath))
        {
            var resumed = Checkpoint.Load(checkpointPath, model, optimizer, checkpointSettings, stepsPerEpoch);
            position = resumed.Position;
            best = ReadAccuracy(resumed.Metadata, "best");
            last = ReadAccuracy(resumed.Metadata, "last");
            partial = EpochLoss.Read(resumed.Metadata);
            if (Finished(position))
            {
                output.WriteLine($"{checkpointPath}: this run has finished (step {position.Step}, epoch {position.Epoch}); nothing to train");
                return new FineTuneResult(best, last, position.Step, false, []);
            }
            output.WriteLine($"resuming from {checkpointPath}: epoch {position.Epoch}, batch {position.Batch}, step {position.Step}");
            if (Checkpoint.ScheduleChanges(resumed.Schedule, checkpointSettings, position.Step) is { } changes) output.WriteLine(changes);
        }
        using var stats = new StatsLog(Path.Combine(s.ExpDir, "stats.txt"), commandLine);
        long totalSteps = (long)s.Epochs * stepsPerEpoch, lastStep = s.MaxSteps > 0 ? Math.Min(totalSteps, s.MaxSteps) : totalSteps;
        var progress = new ProgressLine("finetune", lastStep, "steps", position.Step);
        var clock = Stopwatch.StartNew();
        var losses = new List<double>();
        long step = position.Step;
        bool interrupted = false;
        using var batchY = Tensor.Empty(new Shape(s.BatchSize), DType.Int32, backend);
        Tensor? deviceX = null;
        try
        {
            for (int epoch = position.Epoch; epoch < s.Epochs; epoch++)
            {
                double factor = schedule.At(epoch);
                model.Train();
                int firstBatch = epoch == position.Epoch ? position.Batch : 0;
                var epochLoss = firstBatch > 0 ? partial : new EpochLoss(0, 0);
                foreach (var batch in loader.Epoch(epoch, firstBatch))
                {
                    cancel.ThrowIfCancellationRequested();
                    double loss = Step(model, optimizer, batch, factor, backend, batchY, ref deviceX);
                    step++;
                    losses.Add(loss);
                    epochLoss = epochLoss.Add(loss, batch.Count);
                    if (!double.IsFinite(loss))
                        throw new TrainingDivergedException($"the loss became {loss} at step {step} (epoch {epoch}); lower --lr-backbone / --lr-head");
                    if (progress.IsDue(step)) progress.Report(step, $"epoch {epoch} loss {loss:F4}");
                    bool endOfEpoch = batch.Index == stepsPerEpoch - 1;
                    bool stopNow = _stopRequested || (s.MaxSteps > 0 && step >= s.MaxSteps);
                    if (endOfEpoch)
                    {
                        var accuracy = Evaluate(model, test, evaluation, backend, classes, cancel);
                        last = new EpochAccuracy(epoch, accuracy);
                        if (best is null || accuracy.Top1 > best.Value.Accuracy.Top1) best = last;
                        Log(stats, epoch, step, epochLoss.Mean, factor, accuracy, clock.Elapsed);
                        output.WriteLine($"\nepoch {epoch}: test top-1 {accuracy.Top1:F2}%  top-5 {accuracy.Top5:F2}%  (elapsed {ProgressLine.Format(clock.Elapsed)})");
                    }
                    if (stopNow || endOfEpoch)
                    {
                        var next = endOfEpoch ? new TrainingPosition(epoch + 1, 0, step) : new TrainingPosition(epoch, batch.Index + 1, step);
                        Checkpoint.Save(checkpointPath, model, optimizer, next, checkpointSettings, Records(best, last, endOfEpoch ? new EpochLoss(0, 0) : epochLoss));
                    }
                    if (stopNow)
                    {
                        interrupted = _stopRequested;
                        if (interrupted) output.WriteLine($"\nstopped at step {step}; checkpoint saved to {checkpointPath} (run the same command to resume)");
                        progress.Finish();
                        return new FineTuneResult(best, last, step, interrupted, losses);
                    }
                }
            }
        }
        finally
        {
            deviceX?.Dispose();
        }
        progress.Finish();
        return new FineTuneResult(best, last, step, false, losses);
    }

    /// <summary>One SGD step on a batch: forward in train mode, cross-entropy, backward, update at lr × its group's rate.</summary>
    private static double Step(ClassifierModel model, Sgd optimizer, Batch batch, double factor, IBackend backend, Tensor batchY, ref Tensor? deviceX)
    {
        using var scope = TensorScope.Begin();
        try
        {
            var x = batch.Views[0];
            if (!backend.IsHostMemory)
            {
                deviceX ??= TensorScope.Detach(Tensor.Empty(x.Shape.With(0, batchY.Shape[0]), DType.Float32, backend));
                var slot = x.Shape[0] == deviceX.Shape[0] ? deviceX : deviceX.NarrowView(0, x.Shape[0]);
                slot.CopyFrom<float>(x.AsSpan<float>());
                x = slot;
            }
            var y = batch.Count == batchY.Shape[0] ? batchY : batchY.NarrowView(0, batch.Count);
            y.CopyFrom<int>(batch.Labels.AsSpan<int>());
            var loss = Ops.CrossEntropy(model.Forward(x), y);
            double value = loss.Item();
            optimizer.ZeroGrad();
            loss.Backward();
            optimizer.Step(factor);
            return value;
        }
        finally
        {
            Tape.Clear();
        }
    }

    /// <summary>Top-1 / top-5 of the model in eval mode on the test split (its evaluation transform); the class
    /// scores come through the same extraction as frozen features.</summary>
    public ProbeAccuracy Evaluate(ClassifierModel model, IImageDataset test, IImageTransform evaluation, IBackend backend, int classes, CancellationToken cancel)
    {
        var logits = FeatureExtractor.Extract(model, test, evaluation, backend, settings.BatchSize, settings.Workers, cancel: cancel, strict: settings.Strict);
        model.Train();
        return LinearProbe.Accuracy<float>(logits.Values, logits.Labels, classes);
    }

    private static void Log(StatsLog stats, int epoch, long step, double loss, double factor, ProbeAccuracy accuracy, TimeSpan elapsed) => stats.Write(json =>
    {
        json.WriteNumber("epoch", epoch);
        json.WriteNumber("step", step);
        json.WriteNumber("loss", loss);
        json.WriteNumber("lr_factor", factor);
        json.WriteNumber("top1", accuracy.Top1);
        json.WriteNumber("top5", accuracy.Top5);
        json.WriteNumber("time", Math.Round(elapsed.TotalSeconds, 3));
    });

    /// <summary>The best and last epochs' accuracies as checkpoint metadata, so a resumed run still knows them.</summary>
    private static Dictionary<string, string> Records(EpochAccuracy? best, EpochAccuracy? last, EpochLoss partial)
    {
        var records = partial.Records();
        foreach (var (key, value) in (ReadOnlySpan<(string, EpochAccuracy?)>)[("best", best), ("last", last)])
        {
            if (value is not { } v) continue;
            records[key + "_epoch"] = v.Epoch.ToString(CultureInfo.InvariantCulture);
            records[key + "_top1"] = v.Accuracy.Top1.ToString("R", CultureInfo.InvariantCulture);
            records[key + "_top5"] = v.Accuracy.Top5.ToString("R", CultureInfo.InvariantCulture);
        }
        return records;
    }

    private static EpochAccuracy? ReadAccuracy(IReadOnlyDictionary<string, string> meta, string key)
    {
        if (!meta.TryGetValue(key + "_epoch", out var e) || !meta.TryGetValue(key + "_top1", out var t1) || !meta.TryGetValue(key + "_top5", out var t5)) return null;
        if (!int.TryParse(e, NumberStyles.None, CultureInfo.InvariantCulture, out int epoch)
            || !double.TryParse(t1, NumberStyles.Float, CultureInfo.InvariantCulture, out double top1)
            || !double.TryParse(t5, NumberStyles.Float, CultureInfo.InvariantCulture, out double top5))
            throw new CheckpointException($"the checkpoint's {key} epoch record is damaged ('{e}', '{t1}', '{t5}')");
        return new EpochAccuracy(epoch, new ProbeAccuracy(top1, top5));
    }
}

/// <summary>The running sum of an epoch's per-sample losses, kept in a mid-epoch checkpoint so that a resumed
/// epoch reports the same mean as an uninterrupted one.</summary>
internal readonly record struct EpochLoss(double Sum, long Samples)
{
    public EpochLoss Add(double batchMean, int count) => new(Sum + batchMean * count, Samples + count);
    public double Mean => Samples == 0 ? double.NaN : Sum / Samples;

    public Dictionary<string, string> Records() => new()
    {
        ["epoch_loss_sum"] = Sum.ToString("R", CultureInfo.InvariantCulture),
        ["epoch_samples"] = Samples.ToString(CultureInfo.InvariantCulture),
    };

    public static EpochLoss Read(IReadOnlyDictionary<string, string> meta)
    {
        string s = meta.GetValueOrDefault("epoch_loss_sum", ""), n = meta.GetValueOrDefault("epoch_samples", "");
        return double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double sum)
               && long.TryParse(n, NumberStyles.None, CultureInfo.InvariantCulture, out long samples)
            ? new EpochLoss(sum, samples)
            : throw new CheckpointException($"the checkpoint's epoch loss record is damaged or missing ('{s}', '{n}')");
    }
}
