using System.Globalization;
using Vicreg.Engine;
using Vicreg.Engine.Data;

namespace Vicreg.Training;

/// <summary>
/// The labelled images of semi-supervised fine-tuning: a class-balanced, seeded fraction of a training split,
/// kept as a file list as the official runs keep their fixed ImageNet subsets (1percent.txt, 10percent.txt).
/// Each class contributes round(percent% of its images) (at least one), drawn by a seeded shuffle of that class's
/// images. The file has '#' comment lines, then one line per image: "index&lt;TAB&gt;label&lt;TAB&gt;source", the
/// index into the training split, its label and where it comes from (the label and source make a list written for
/// another data set fail loudly rather than train on the wrong images).
/// </summary>
public static class LabelSubset
{
    public const string FileName = "train_files.txt";

    /// <summary>The subset's indices into <paramref name="dataset"/>, ascending.</summary>
    public static int[] Select(IImageDataset dataset, double percent, ulong seed)
    {
        var labels = new int[dataset.Count];
        for (int i = 0; i < labels.Length; i++) labels[i] = dataset.Label(i);
        return Select(labels, dataset.Classes.Count, percent, seed);
    }

    /// <summary>The same class-balanced, seeded draw over any labelled rows (<paramref name="labels"/>[i] in
    /// [0, <paramref name="classes"/>)): the row indices chosen, ascending.</summary>
    public static int[] Select(IReadOnlyList<int> labels, int classes, double percent, ulong seed)
    {
        if (percent <= 0 || percent > 100) throw new ArgumentOutOfRangeException(nameof(percent), percent, "a percentage in (0, 100]");
        var byClass = Enumerable.Range(0, classes).Select(_ => new List<int>()).ToArray();
        for (int i = 0; i < labels.Count; i++) byClass[labels[i]].Add(i);
        var chosen = new List<int>();
        for (int c = 0; c < byClass.Length; c++)
        {
            var members = byClass[c].ToArray();
            if (members.Length == 0) continue;
            // One stream per class, so a class's draw does not depend on how many images the others have.
            var rng = Rng.ForKey(seed, (ulong)c);
            rng.Shuffle(members);
            int take = Math.Clamp((int)Math.Round(members.Length * percent / 100, MidpointRounding.AwayFromZero), 1, members.Length);
            chosen.AddRange(members.AsSpan(0, take).ToArray());
        }
        chosen.Sort();
        return chosen.ToArray();
    }

    public static void Write(string path, IImageDataset dataset, IReadOnlyList<int> indices, string description)
    {
        using var w = new StreamWriter(path);
        w.WriteLine($"# vicreg label subset: {description}; {indices.Count} images");
        w.WriteLine("# index\tlabel\tsource");
        foreach (int i in indices) w.WriteLine($"{i.ToString(CultureInfo.InvariantCulture)}\t{dataset.Label(i).ToString(CultureInfo.InvariantCulture)}\t{dataset.Describe(i)}");
    }

    /// <summary>The indices a list names, checked against <paramref name="dataset"/>: each in range, listed once,
    /// with the label the data set gives it. A wrong list is a <see cref="DatasetException"/> naming the first bad line.</summary>
    public static int[] Read(string path, IImageDataset dataset)
    {
        if (!File.Exists(path)) throw new DatasetException($"--train-files: {path} not found");
        var indices = new List<int>();
        var seen = new HashSet<int>();
        int lineNumber = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNumber++;
            if (line.Length == 0 || line.StartsWith('#')) continue;
            var fields = line.Split('\t');
            string where = $"--train-files {path} line {lineNumber}";
            if (fields.Length < 2
                || !int.TryParse(fields[0], NumberStyles.None, CultureInfo.InvariantCulture, out int index)
                || !int.TryParse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture, out int label))
                throw new DatasetException($"{where}: expected 'index<TAB>label[<TAB>source]', got '{Shorten(line)}'");
            if (index >= dataset.Count)
                throw new DatasetException($"{where}: image {index} is beyond the {dataset.Count} training images (a list for another data set?)");
            if (dataset.Label(index) != label)
                throw new DatasetException($"{where}: image {index} has label {dataset.Label(index)} here, {label} in the list (a list for another data set?)");
            if (!seen.Add(index)) throw new DatasetException($"{where}: image {index} is listed twice");
            indices.Add(index);
        }
        if (indices.Count == 0) throw new DatasetException($"--train-files {path} lists no images");
        return indices.ToArray();
    }

    private static string Shorten(string s) => s.Length <= 60 ? s : s[..60] + "...";
}
