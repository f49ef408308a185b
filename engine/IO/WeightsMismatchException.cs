namespace Vicreg.Engine.IO;

/// <summary>
/// A weights file that does not fit a model: every missing name, unexpected name and shape mismatch is
/// collected, so one error tells the whole story (not the first problem of many). The message is one
/// line that lists the first few of each kind; the properties hold them all.
/// </summary>
public sealed class WeightsMismatchException : Exception
{
    /// <summary>The weights file.</summary>
    public string File { get; }
    /// <summary>The model's tensors the file lacks.</summary>
    public IReadOnlyList<string> Missing { get; }
    /// <summary>The file's tensors the model lacks.</summary>
    public IReadOnlyList<string> Unexpected { get; }
    /// <summary>The tensors both hold with different shapes.</summary>
    public IReadOnlyList<(string Name, Shape Expected, Shape Found)> ShapeMismatches { get; }

    /// <summary>Every difference between the model and <paramref name="file"/>, summarized in a one-line message.</summary>
    public WeightsMismatchException(string file, IReadOnlyList<string> missing, IReadOnlyList<string> unexpected,
        IReadOnlyList<(string Name, Shape Expected, Shape Found)> shapeMismatches)
        : base(Describe(file, missing, unexpected, shapeMismatches))
    {
        File = file;
        Missing = missing;
        Unexpected = unexpected;
        ShapeMismatches = shapeMismatches;
    }

    private const int Shown = 5;

    private static string Describe(string file, IReadOnlyList<string> missing, IReadOnlyList<string> unexpected,
        IReadOnlyList<(string Name, Shape Expected, Shape Found)> shapes)
    {
        var parts = new List<string>();
        if (missing.Count > 0) parts.Add($"{missing.Count} missing ({List(missing)})");
        if (unexpected.Count > 0) parts.Add($"{unexpected.Count} unexpected ({List(unexpected)})");
        if (shapes.Count > 0)
            parts.Add($"{shapes.Count} with another shape ({List(shapes.Select(s => $"{s.Name}: model {s.Expected}, file {s.Found}").ToList())})");
        return $"weights {file} do not fit the model: " + string.Join("; ", parts);
    }

    private static string List(IReadOnlyList<string> items) =>
        string.Join(", ", items.Take(Shown)) + (items.Count > Shown ? $", and {items.Count - Shown} more" : "");
}
