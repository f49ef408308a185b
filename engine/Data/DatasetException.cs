namespace Vicreg.Engine.Data;

/// <summary>A user's data mistake (missing folder, wrong file format, empty class folder): one clear
/// line naming the file or folder, meant to be shown as is, without a stack trace.</summary>
public class DatasetException : Exception
{
    public DatasetException(string message) : base(message) { }
    public DatasetException(string message, Exception inner) : base(message, inner) { }
}
