using Vicreg.Engine.Inference;

namespace Vicreg.Training;

/// <summary>One candidate learning rate of the head and its top-1 on the validation rows, in percent.</summary>
public readonly record struct HeadLearningRateTrial(double LearningRate, double ValidationTop1);

/// <summary>What <see cref="HeadLearningRateSelection"/> chose and how each candidate did.</summary>
public sealed record HeadLearningRateChoice(double LearningRate, IReadOnlyList<HeadLearningRateTrial> Trials, int ValidationCount);

/// <summary>
/// Chooses the linear head's learning rate without looking at the test split: a class-balanced, seeded
/// <c>percent</c>% of the training features is held out (<see cref="LabelSubset"/>'s draw), a head is trained
/// on the rest for each candidate, and the one with the best validation top-1 wins (the first listed on a tie).
/// The best rate differs between probes (a 128-d representation converges at a large rate; 784 raw pixels
/// overfit at one), so one fixed rate would favour one of them; the test split stays unseen until the final head.
/// </summary>
public static class HeadLearningRateSelection
{
    /// <summary><paramref name="validationTop1"/>(lr, fit, validation) trains a head at lr on the fit rows and returns its
    /// top-1 on the validation rows.</summary>
    public static HeadLearningRateChoice Choose(IReadOnlyList<double> candidates, double percent, ulong seed, FeatureSet train, int classes,
        Func<double, FeatureSet, FeatureSet, double> validationTop1, Action<HeadLearningRateTrial>? onTrial = null)
    {
        if (candidates.Count == 0) throw new ArgumentException("no learning rate to choose from", nameof(candidates));
        var validationRows = LabelSubset.Select(train.Labels, classes, percent, seed);
        if (validationRows.Length >= train.Count)
            throw new ArgumentException($"holding out {percent}% of {train.Count} training images leaves none to train on");
        var isValidation = new bool[train.Count];
        foreach (int row in validationRows) isValidation[row] = true;
        var fitRows = Enumerable.Range(0, train.Count).Where(r => !isValidation[r]).ToArray();
        var fit = train.Rows(fitRows);
        var validation = train.Rows(validationRows);
        var trials = new List<HeadLearningRateTrial>(candidates.Count);
        foreach (double lr in candidates)
        {
            var trial = new HeadLearningRateTrial(lr, validationTop1(lr, fit, validation));
            trials.Add(trial);
            onTrial?.Invoke(trial);
        }
        var best = trials[0];
        foreach (var t in trials) if (t.ValidationTop1 > best.ValidationTop1) best = t;
        return new HeadLearningRateChoice(best.LearningRate, trials, validation.Count);
    }
}
