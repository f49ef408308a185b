namespace Vicreg.Engine.IO;

/// <summary>A weights file that cannot be read (not of its format, damaged, or asking for something this
/// program refuses); the message is one line and names the file.</summary>
public class WeightsFormatException(string message) : IOException(message);
