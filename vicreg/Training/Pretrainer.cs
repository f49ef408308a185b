using System.Diagnostics;
using System.Globalization;
using Vicreg.Augment;
using Vicreg.Datasets;
using Vicreg.Engine.Autograd;
using Vicreg.Engine.Data;
using Vicreg.Engine.Distributed;
using Vicreg.Engine.IO;
using Vicreg.Engine.Nn;
using Vicreg.Engine.Optim;
using Vicreg.Engine;
using Vicreg.Engine.Models;
using Vicreg.Platform;

namespace Vicreg.Training;

/// <summary>What a pretraining run ended with (for the caller and the tests).</summary>
public sealed record PretrainResult(long Steps, double LastLoss, double LastEmbeddingStd, bool Interrupted, IReadOnlyList<double> Losses);

/// <summary>
/// The pretraining loop, as the official main_vicreg.py (and Barlow Twins' main.py: --loss barlowtwins, see
/// <see cref="PretrainObjective"/>): for each step, both views through backbone and expander, the loss, backward, LARS
/// with the warm-up + cosine schedule. Each step
/// runs inside a tensor scope, so its intermediates go back to the allocator's cache when it ends.
/// A checkpoint is written after every epoch and when the run is interrupted (Ctrl-C or SIGTERM:
/// the current step finishes first); a run whose experiment folder holds a checkpoint resumes from it
/// and continues exactly as the uninterrupted run would have. Under mpirun each rank runs this loop on its
/// share of the global batch (see <see cref="DataParallel"/>); rank 0 alone writes files and reports.
/// </summary>
public sealed class Pretrainer(PretrainOptions options, string commandLine, TextWriter output, ICommunicator? communicator = null)
{
    private volatile bool _stopRequested;

    /// <summary>Asks the loop to stop after the current step and save a checkpoint.</summary>
    public void RequestStop() => _stopRequested = true;

    public PretrainResult Run()
    {
        var o = options;
        var backend = BackendSelector.Resolve(o.Device, output.WriteLine, allowTf32: !o.NoTf32, deterministic: o.Deterministic, localRank: Communicators.LocalRank);
        var split = DatasetCatalog.Open(o.Dataset, o.DataDir, train: true, o.ImageSize, o.MaxImagePixels);
        int crop = o.ImageSize ?? split.ImageSize;
        var dataset = DatasetCatalog.Limit(split.Dataset, o.Limit);
        if (dataset.Count < o.BatchSize)
            throw new DatasetException($"--batch-size {o.BatchSize} is larger than the {dataset.Count} training images");
        string stem = o.Stem == "auto" ? (split.IsSmall ? "cifar" : "imagenet") : o.Stem;

        // Refuse a run that cannot fit before allocating it (device memory is the CUDA allocator's to report).
        if (backend.IsHostMemory)
            MemoryFootprint.Pretraining(o.Arch, ResNetStems.Parse(stem), o.Width, split.Channels, crop, crop, o.Mlp, o.BatchSize)
                .Require($"pretrain (--arch {o.Arch} --width {o.Width} --mlp {o.Mlp} --batch-size {o.BatchSize})");

        var rng = new Rng(o.Seed);
        var backbone = Backbones.Create(o.Arch, ResNetStems.Parse(stem), o.Width, split.Channels, ref rng, backend: backend);
        var objective = PretrainObjective.For(o);
        var projector = Expander.Create(backbone.RepresentationSize, o.Mlp, ref rng, backend: backend, hiddenBias: objective.ExpanderHiddenBias);
        var model = new VicregModel(backbone, projector);
        var optimizer = objective.CreateOptimizer(model);
        using var parallel = new DataParallel(communicator ?? SingleProcessCommunicator.Instance);
        parallel.Attach(model);

        var views = o.CropScaleMin is double scaleMin ? VicregAugmentations.WithCropScaleMin(split.PretrainViews, scaleMin) : split.PretrainViews;
        // A small data set's crops at another size (an image folder's views are already built at it).
        if (crop != split.ImageSize) views = VicregAugmentations.WithCropSize(views, crop);
        using var loader = new DataLoader(dataset, views, new DataLoaderOptions
        {
            BatchSize = parallel.LocalBatch(o.BatchSize), ShardIndex = parallel.Communicator.Rank, ShardCount = parallel.Communicator.Size, Seed = o.Seed, Shuffle = true, DropLast = true, NumWorkers = o.NumWorkers, Strict = o.Strict,
        });
        int stepsPerEpoch = loader.BatchesPerEpoch;
        long totalSteps = (long)o.Epochs * stepsPerEpoch;
        var schedule = objective.Schedule(stepsPerEpoch);

        // Rank 0 alone owns the folder (its lock, checkpoints and logs); the others receive its start.
        using var folder = parallel.IsWriter ? ExperimentFolder.Open(o.ExpDir, output.WriteLine) : null;
        string checkpointPath = Path.Combine(o.ExpDir, Checkpoint.FileName);
        var settings = Checkpoint.Settings(o, split.Channels, stem, dataset.Count);
        bool Finished(TrainingPosition p) => p.Epoch >= o.Epochs || (o.MaxSteps > 0 && p.Step >= o.MaxSteps);
        var position = parallel.IsWriter ? Resume(checkpointPath, model, optimizer, settings, stepsPerEpoch, Finished) : new TrainingPosition(0, 0, 0);
        position = parallel.BroadcastStart(model, optimizer, position);
        if (Finished(position))
        {
            // A finished run stays finished: rerunning its command trains nothing (every rank learns it from the broadcast).
            string limit = o.MaxSteps > 0 && position.Step >= o.MaxSteps ? $"--max-steps {o.MaxSteps}" : $"--epochs {o.Epochs}";
            if (parallel.IsWriter) output.WriteLine($"{checkpointPath}: this run has finished (step {position.Step}, epoch {position.Epoch}; {limit}); nothing to train");
            return new PretrainResult(position.Step, double.NaN, double.NaN, false, []);
        }
        output.WriteLine($"pretrain{(o.Loss == PretrainOptions.Vicreg ? "" : " --loss " + o.Loss)}: {o.Arch} ({stem} stem, width {o.Width}, {backbone.ParameterCount():N0} parameters) + expander {backbone.RepresentationSize}-{o.Mlp}; " +
                         $"{dataset.Count} images{(crop == split.ImageSize ? "" : $" cropped to {crop}x{crop}")}, batch {o.BatchSize}, {stepsPerEpoch} steps/epoch, {o.Epochs} epochs, {objective.DescribePeak()}, on {backend.Name}" +
                         (parallel.IsDistributed ? $"; {parallel.Communicator.Name}, {o.BatchSize / parallel.Communicator.Size} per rank" : ""));

        // kNN monitoring is rank 0's, like every log (the other ranks wait for it at the next step's collectives).
        var knn = parallel.IsWriter && o.KnnEvery > 0 ? CreateKnnMonitor(split) : null;
        using var stats = parallel.IsWriter ? new StatsLog(Path.Combine(o.ExpDir, "stats.txt"), commandLine) : null;
        // The bar ends where this run will end (a --max-steps cap included) and counts from where it resumed.
        long lastStep = o.MaxSteps > 0 ? Math.Min(totalSteps, o.MaxSteps) : totalSteps;
        var progress = new ProgressLine("pretrain", lastStep, "steps", position.Step);
        var clock = Stopwatch.StartNew();
        var lastLog = TimeSpan.Zero;
        var losses = new List<double>();
        double lastLoss = double.NaN, lastStd = double.NaN;
        long step = position.Step;
        bool interrupted = false, stopped = false;
        using var onBackend = new DeviceBatches(backend);
        model.Train();

        for (int epoch = position.Epoch; epoch < o.Epochs && !stopped; epoch++)
        {
            int firstBatch = epoch == position.Epoch ? position.Batch : 0;
            foreach (var (batch, viewA, viewB) in onBackend.Over(loader.Epoch(epoch, firstBatch)))
            {
                double lr = schedule.At(step);
                bool endOfEpoch = batch.Index == stepsPerEpoch - 1;
                // Decided before the step, so the step can measure what only a log line needs (RankMe) while its tensors live.
                bool logDue = stats is not null && ((clock.Elapsed - lastLog).TotalSeconds >= o.LogFreqTime || endOfEpoch || step == 0);
                var terms = TrainStep(model, objective, optimizer, parallel, viewA, viewB, lr, measureRank: logDue);
                step++;
                lastLoss = terms.Loss;
                lastStd = terms.EmbeddingStd;
                losses.Add(terms.Loss);
                if (!double.IsFinite(terms.Loss))
                    throw new TrainingDivergedException($"the loss became {terms.Loss} at step {step} (epoch {epoch}); lower {objective.LearningRateFlag} or check the data");

                var elapsed = clock.Elapsed;
                if (parallel.IsWriter && progress.IsDue(step)) progress.Report(step, $"loss {terms.Loss:F3} ({objective.Describe(terms.Reading)}) std {terms.EmbeddingStd:F3}");
                if (logDue && stats is not null)
                {
                    lastLog = elapsed;
                    Log(stats, objective, epoch, step, terms, lr, elapsed, loader.SkippedSamples);
                }
                bool stopRequested = parallel.AnyStop(_stopRequested);
                bool stopNow = stopRequested || (o.MaxSteps > 0 && step >= o.MaxSteps);
                if (parallel.IsWriter && (stopNow || endOfEpoch))
                {
                    var next = endOfEpoch ? new TrainingPosition(epoch + 1, 0, step) : new TrainingPosition(epoch, batch.Index + 1, step);
                    Checkpoint.Save(checkpointPath, model, optimizer, next, settings);
                }
                if (endOfEpoch && knn is not null && stats is not null && (epoch + 1) % o.KnnEvery == 0) LogKnn(stats, epoch, step, knn.Measure(backbone, backend), output);
                if (stopNow)
                {
                    stopped = true;
                    interrupted = stopRequested;
                    if (stopRequested) output.WriteLine($"\nstopped at step {step}; checkpoint saved to {checkpointPath} (run the same command to resume)");
                    break;
                }
            }
        }
        if (parallel.IsWriter) progress.Finish();
        if (parallel.IsWriter && !interrupted && (o.MaxSteps == 0 || step >= totalSteps))
            SaveBackbone(backbone, stem, $"done: {step} steps in {ProgressLine.Format(clock.Elapsed)}, final loss {lastLoss:F4}");
        return new PretrainResult(step, lastLoss, lastStd, interrupted, losses);
    }

    /// <summary>Where a run starts: the experiment folder's checkpoint loaded into model and optimizer (rank 0 only;
    /// <see cref="DataParallel.BroadcastStart"/> hands it to the others), or the beginning.</summary>
    private TrainingPosition Resume(string checkpointPath, VicregModel model, Lars optimizer, CheckpointSettings settings, int stepsPerEpoch,
        Func<TrainingPosition, bool> finished)
    {
        if (!File.Exists(checkpointPath)) return new TrainingPosition(0, 0, 0);
        var resumed = Checkpoint.Load(checkpointPath, model, optimizer, settings, stepsPerEpoch);
        var position = resumed.Position;
        if (!finished(position))
        {
            output.WriteLine($"resuming from {checkpointPath}: epoch {position.Epoch}, batch {position.Batch}, step {position.Step}");
            if (Checkpoint.ScheduleChanges(resumed.Schedule, settings, position.Step) is { } changes) output.WriteLine(changes);
        }
        return position;
    }

    /// <summary>The kNN monitor of --knn-every: a bank from the training split, queries from the test split.</summary>
    private KnnMonitor CreateKnnMonitor(DatasetChoice split)
    {
        var o = options;
        var queries = DatasetCatalog.Open(o.Dataset, o.DataDir, train: false, o.ImageSize, o.MaxImagePixels).Dataset;
        return new KnnMonitor(DatasetCatalog.Limit(split.Dataset, o.KnnBank), DatasetCatalog.Limit(queries, o.KnnQueries),
            split.Evaluation, split.Dataset.Classes.Count, o.BatchSize, o.NumWorkers);
    }

    /// <summary>One step inside a tensor scope: both views through backbone and expander, the loss, backward,
    /// gradients averaged over ranks, LARS. RankMe is measured only when asked (a log line needs it), while view A's
    /// representation and embedding still live.</summary>
    internal static StepFigures TrainStep(VicregModel model, PretrainObjective objective, Lars optimizer, DataParallel parallel, Tensor viewA, Tensor viewB, double lr, bool measureRank)
    {
        using var scope = TensorScope.Begin();
        try
        {
            var ya = model.Backbone.Forward(viewA);
            var za = model.Projector.Forward(ya);
            var zb = model.Forward(viewB);
            var loss = objective.Forward(za, zb, parallel.Communicator, out var lossTerms);
            var terms = new StepFigures(objective.Read(lossTerms), EmbeddingStatistics.MeanStd(za),
                measureRank ? RankMe.Of(ya) : double.NaN, measureRank ? RankMe.Of(za) : double.NaN);
            optimizer.ZeroGrad();
            loss.Backward();
            parallel.AverageGradients();
            optimizer.Step(lr);
            return terms;
        }
        finally
        {
            Tape.Clear();
        }
    }

    /// <summary>The trained backbone as backbone.safetensors (with its arch and stem), and the closing line.</summary>
    private void SaveBackbone(Module backbone, string stem, string summary)
    {
        string backbonePath = Path.Combine(options.ExpDir, "backbone.safetensors");
        StateDictFile.Save(backbone, backbonePath, new Dictionary<string, string> { ["arch"] = options.Arch, ["stem"] = stem });
        output.WriteLine($"{summary}; backbone saved to {backbonePath}");
    }

    /// <summary>What one step reports: the weighted loss and its unweighted terms, the embeddings' mean per-dimension std,
    /// and (on steps that log) RankMe of view A's representation and embedding.</summary>
    internal readonly record struct StepFigures(LossReading Reading, double EmbeddingStd, double RepresentationRankMe, double EmbeddingRankMe)
    {
        public double Loss => Reading.Loss;
    }

    private static void Log(StatsLog stats, PretrainObjective objective, int epoch, long step, StepFigures t, double lr, TimeSpan elapsed, long skipped) => stats.Write(json =>
    {
        json.WriteNumber("epoch", epoch);
        json.WriteNumber("step", step);
        objective.WriteTerms(json, t.Reading);
        objective.WriteLearningRates(json, lr);
        json.WriteNumber("time", Math.Round(elapsed.TotalSeconds, 3));
        json.WriteNumber("embedding_std", t.EmbeddingStd);
        json.WriteNumber("rankme_representation", t.RepresentationRankMe);
        json.WriteNumber("rankme_embedding", t.EmbeddingRankMe);
        json.WriteNumber("skipped_images", skipped);
    });

    private static void LogKnn(StatsLog stats, int epoch, long step, KnnMeasurement m, TextWriter output)
    {
        stats.Write(json =>
        {
            json.WriteNumber("epoch", epoch);
            json.WriteNumber("step", step);
            json.WriteNumber("knn_top1", m.Accuracy.Top1);
            json.WriteNumber("knn_top5", m.Accuracy.Top5);
            json.WriteNumber("knn_bank", m.BankSize);
            json.WriteNumber("knn_queries", m.Queries);
            json.WriteNumber("knn_seconds", Math.Round(m.Cost.TotalSeconds, 3));
        });
        output.WriteLine($"\nepoch {epoch}: kNN top-1 {m.Accuracy.Top1:F2}% ({m.BankSize} bank / {m.Queries} test images, {m.Cost.TotalSeconds:F1} s)");
    }
}

/// <summary>The loss stopped being a finite number.</summary>
public sealed class TrainingDivergedException(string message) : Exception(message);
