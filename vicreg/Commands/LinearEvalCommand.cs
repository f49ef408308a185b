using System.Diagnostics;
using System.Globalization;
using Vicreg.Training;

namespace Vicreg.Commands;

/// <summary>
/// `vicreg linear-eval`: a linear classifier on the frozen backbone (eval mode), the official head
/// recipe (N(0, 0.01) weights, zero bias, SGD momentum 0.9, cosine per epoch). The weights, data and
/// backbone flags are those of every frozen-backbone evaluation (<see cref="FrozenEvaluationInputs"/>).
/// By default features are computed once and standardized (<see cref="LinearProbe"/>); --augment runs the
/// official protocol, a fresh crop + flip of every training image every epoch (<see cref="AugmentedLinearProbe"/>).
/// Ctrl-C (or SIGTERM) stops after the current step with exit code 130 (143); nothing is written.
/// </summary>
public sealed class LinearEvalCommand : ICommand
{
    public string Name => "linear-eval";
    public string Summary => "train a linear classifier on frozen features and report top-1 / top-5";

    public int Run(Arguments a, string commandLine)
    {
        var inputs = FrozenEvaluationInputs.Parse(a, Name, ", the head's initialization, the shuffling and (--augment) the augmentations");
        double[] lrHeads = a.DoubleList("lr-head", 0.02, "learning rate of the linear head; a comma-separated list (0.01,0.1,1) chooses among them on a held-out validation split (--val-perc)", 0);
        double valPercent = a.Double("val-perc", 10, "with several --lr-head values: the class-balanced percentage of the training images held out to choose among them", 0.01, 50);
        int epochs = a.Int("epochs", 100, "epochs of head training", 1);
        double weightDecay = a.Double("weight-decay", 1e-6, "weight decay of the head", 0);
        bool augment = a.Switch("augment", "the official protocol: a freshly augmented (crop + flip) batch through the frozen backbone every step, raw features");
        string? expDir = a.OptionalString("exp-dir", "folder for linear_eval.txt (the result as a JSON line)");
        if (a.HelpRequested)
        {
            Console.WriteLine(a.Usage(Summary + ".\n" +
                "Default protocol: features are computed once with the evaluation transform and standardized per dimension; the head then trains on them (fast, and the same for every probe).\n" +
                "--lr-head 0.01,0.1,1: the head is trained for each value on the training images minus a class-balanced, seeded --val-perc% held out, and the value with the best held-out top-1 trains the final head on all of them; the test split is not looked at until then.\n" +
                "--augment: the official protocol: every step the frozen backbone (eval mode) sees a freshly augmented batch (crop + flip) and the head trains on its raw features; the test split uses the evaluation transform.\n" +
                "Ctrl-C stops after the current step; nothing is written."));
            return 0;
        }
        a.RejectUnknown();
        if (augment && lrHeads.Length > 1)
            throw new UsageException($"{Name}: --augment takes one --lr-head value (choosing among {lrHeads.Length} would run the backbone over the data once per candidate)");
        inputs = inputs.Validate();

        return CancellableCommand.Run("interrupt: linear-eval stops after the current step; no result is written (Ctrl-C again to abort)", cancel =>
        {
            var opened = inputs.Open();
            var (backend, backbone, trainSet, testSet) = (opened.Backend, opened.Backbone, opened.TrainSet, opened.TestSet);
            int batchSize = opened.BatchSize, classes = opened.Classes;
            var clock = Stopwatch.StartNew();
            var trainFeatures = augment ? null : opened.Features(trainSet, "features (train)", cancel);
            var testFeatures = opened.Features(testSet, "features (test)", cancel);
            // Unreadable images have no feature row; the counts below are of the images used.
            long skipped = (trainFeatures is null ? 0 : trainSet.Count - trainFeatures.Count) + testSet.Count - testFeatures.Count;
            var progress = new ProgressLine(augment ? "linear head (augmented)" : "linear head", epochs, "epochs");
            // Each epoch of --augment runs the backbone over the whole split: report every one, with the time so far.
            void OnEpoch(int epoch, double loss) =>
                progress.Report(epoch + 1, $"loss {loss:F4} elapsed {ProgressLine.Format(clock.Elapsed)}", force: augment);
            ProbeAccuracy accuracy;
            double lrHead = lrHeads[0];
            HeadLearningRateChoice? choice = null;
            if (trainFeatures is not null && lrHeads.Length > 1)
            {
                choice = HeadLearningRateSelection.Choose(lrHeads, valPercent, inputs.Seed, trainFeatures, classes,
                    (lr, fit, validation) => new LinearProbe(epochs, batchSize, lr, weightDecay, inputs.Seed).Run(fit, validation, classes, backend, cancel: cancel).Top1,
                    t => Console.Error.WriteLine($"lr-head {t.LearningRate.ToString(CultureInfo.InvariantCulture)}: validation top-1 {t.ValidationTop1:F2}%"));
                lrHead = choice.LearningRate;
            }
            if (trainFeatures is null)
            {
                var probe = new AugmentedLinearProbe(epochs, batchSize, lrHead, weightDecay, inputs.Seed, inputs.Workers, inputs.Strict);
                accuracy = probe.Run(backbone, trainSet, opened.Train.LinearTrain, testFeatures, classes, backend, OnEpoch, cancel);
                skipped += probe.SkippedSamples;
            }
            else
            {
                var probe = new LinearProbe(epochs, batchSize, lrHead, weightDecay, inputs.Seed);
                accuracy = probe.Run(trainFeatures, testFeatures, classes, backend, OnEpoch, cancel);
            }
            progress.Finish();
            string protocol = augment ? "augmented every step, raw" : "computed once, standardized";
            int trainImages = trainFeatures?.Count ?? trainSet.Count;
            string skippedNote = skipped > 0 ? $", {skipped} unreadable skipped" : "";
            string lrNote = choice is null ? "" : $"; lr-head {lrHead.ToString(CultureInfo.InvariantCulture)} chosen on {choice.ValidationCount} held-out training images";
            Console.WriteLine($"linear-eval {inputs.WeightsLabel}: top-1 {accuracy.Top1:F2}%  top-5 {accuracy.Top5:F2}%  ({testFeatures.Dimension}-d features {protocol}; {trainImages} train / {testFeatures.Count} test images{skippedNote}{lrNote}, {ProgressLine.Format(clock.Elapsed)})");
            if (expDir is not null)
                StatsLog.WriteResult(expDir, "linear_eval.txt", commandLine, json =>
                {
                    json.WriteString("weights", inputs.Weights);
                    json.WriteNumber("top1", accuracy.Top1);
                    json.WriteNumber("top5", accuracy.Top5);
                    json.WriteNumber("epochs", epochs);
                    json.WriteNumber("lr_head", lrHead);
                    if (choice is not null)
                    {
                        json.WriteNumber("validation_images", choice.ValidationCount);
                        json.WriteStartArray("lr_head_trials");
                        foreach (var t in choice.Trials)
                        {
                            json.WriteStartObject();
                            json.WriteNumber("lr_head", t.LearningRate);
                            json.WriteNumber("validation_top1", t.ValidationTop1);
                            json.WriteEndObject();
                        }
                        json.WriteEndArray();
                    }
                    json.WriteNumber("feature_dim", testFeatures.Dimension);
                    json.WriteBoolean("augment", augment);
                    json.WriteNumber("skipped_images", skipped);
                });
            return double.IsFinite(accuracy.Top1) ? 0 : 1;
        });
    }
}
