namespace Vicreg.Engine.Data;

/// <summary>One image could not be decoded (corrupt, truncated, unsupported). The loader skips such a
/// sample with a warning and counts it, or stops when strict.</summary>
public sealed class ImageDecodeException : DatasetException
{
    /// <summary>A one-line <paramref name="message"/>.</summary>
    public ImageDecodeException(string message) : base(message) { }
    /// <summary>A one-line <paramref name="message"/>, caused by <paramref name="inner"/>.</summary>
    public ImageDecodeException(string message, Exception inner) : base(message, inner) { }
}
