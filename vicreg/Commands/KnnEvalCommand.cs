using System.Diagnostics;
using System.Globalization;
using Vicreg.Engine.Inference;
using Vicreg.Training;

namespace Vicreg.Commands;

/// <summary>
/// `vicreg knn-eval`: the weighted kNN classifier of InstDisc and solo-learn (<see cref="WeightedKnn"/>) on
/// the frozen backbone's L2-normalized features of the training split, scored on the test split. Features come
/// from the same extraction as linear-eval (<see cref="FrozenEvaluationInputs"/>); nothing is trained, so the
/// result depends only on the weights, k and T. Ctrl-C (or SIGTERM) stops with one line and exit code 130 (143); nothing is written.
/// </summary>
public sealed class KnnEvalCommand : ICommand
{
    public string Name => "knn-eval";
    public string Summary => "weighted kNN (k 200, T 0.1) on frozen, L2-normalized features; report top-1 / top-5";

    public int Run(Arguments a, string commandLine)
    {
        var inputs = FrozenEvaluationInputs.Parse(a, Name, "");
        int k = a.Int("k", 200, "neighbours that vote (all training images when there are fewer)", 1);
        double temperature = a.Double("temperature", 0.1, "each neighbour votes exp(cosine similarity / T) for its label", WeightedKnn.MinTemperature);
        string? expDir = a.OptionalString("exp-dir", "folder for knn_eval.txt (the result as a JSON line)");
        if (a.HelpRequested)
        {
            Console.WriteLine(a.Usage(Summary + ".\n" +
                "Features of both splits are computed once with the evaluation transform (backbone in eval mode) and L2-normalized; each test image's k most\n" +
                "similar training images (cosine) vote for their label with weight exp(similarity / T); the classes rank by their summed votes.\n" +
                "Ctrl-C stops; nothing is written."));
            return 0;
        }
        a.RejectUnknown();
        inputs = inputs.Validate();

        return CancellableCommand.Run("interrupt: knn-eval stops; no result is written (Ctrl-C again to abort)", cancel =>
        {
            var opened = inputs.Open();
            var clock = Stopwatch.StartNew();
            var train = RequireFinite(opened.Features(opened.TrainSet, "features (train)", cancel), "training");
            var test = RequireFinite(opened.Features(opened.TestSet, "features (test)", cancel), "test");
            var knn = new WeightedKnn(k, temperature);
            var accuracy = knn.Evaluate(train, test, opened.Classes, opened.Backend, new ProgressLine("kNN", test.Count, "images"), cancel);
            int used = Math.Min(k, train.Count);
            string t = temperature.ToString("G", CultureInfo.InvariantCulture);
            Console.WriteLine($"knn-eval {inputs.WeightsLabel}: top-1 {accuracy.Top1:F2}%  top-5 {accuracy.Top5:F2}%  (k {used}, T {t}, {test.Dimension}-d L2-normalized features; " +
                              $"{train.Count} train / {test.Count} test images, {ProgressLine.Format(clock.Elapsed)})");
            if (expDir is not null)
                StatsLog.WriteResult(expDir, "knn_eval.txt", commandLine, json =>
                {
                    json.WriteString("weights", inputs.Weights);
                    json.WriteNumber("top1", accuracy.Top1);
                    json.WriteNumber("top5", accuracy.Top5);
                    json.WriteNumber("k", used);
                    json.WriteNumber("temperature", temperature);
                    json.WriteNumber("feature_dim", test.Dimension);
                });
            return 0;
        });
    }

    /// <summary>A backbone whose weights hold NaN or infinity gives features no neighbour search can rank.</summary>
    private FeatureSet RequireFinite(FeatureSet features, string split)
    {
        foreach (float v in features.Values)
            if (!float.IsFinite(v))
                throw new UsageException($"{Name}: the {split} features hold non-finite values (NaN or infinity): the weights are broken");
        return features;
    }
}
