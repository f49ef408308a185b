namespace Vicreg.Engine.Inference;

/// <summary>An image file that could not be embedded, and why (truncated, not an image, too many pixels, ...).</summary>
public readonly record struct SkippedImage(string File, string Reason);

/// <summary>
/// The embeddings of image files: one row per readable file, in the order the paths named them (each folder sorted
/// by path), <see cref="Files"/>[i] being the file of <see cref="Rows"/>[i]; the unreadable files are in
/// <see cref="Skipped"/> and have no row.
/// </summary>
public sealed record ImageEmbeddings(IReadOnlyList<string> Files, IReadOnlyList<float[]> Rows, IReadOnlyList<SkippedImage> Skipped)
{
    /// <summary>The number of embedded images (rows).</summary>
    public int Count => Rows.Count;
}
