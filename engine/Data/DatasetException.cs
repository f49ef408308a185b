namespace Vicreg.Engine.Data;

/// <summary>A user's data mistake (missing folder, wrong file format, empty class folder): one clear
/// line naming the file or folder, meant to be shown as is, without a stack trace.</summary>
public class DatasetException : Exception
{
    /// <summary>A one-line <paramref name="message"/>.</summary>
    public DatasetException(string message) : base(message) { }
    /// <summary>A one-line <paramref name="message"/>, caused by <paramref name="inner"/>.</summary>
    public DatasetException(string message, Exception inner) : base(message, inner) { }
}
