namespace Vicreg.Engine.IO;

/// <summary>A file that is not valid safetensors (or uses a type we cannot read); the message names the file.</summary>
public sealed class SafetensorsFormatException(string message) : WeightsFormatException(message);
