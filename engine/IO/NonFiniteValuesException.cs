namespace Vicreg.Engine.IO;

/// <summary>Weights or optimizer state holding NaN or infinity. Loaded, they make every output NaN (and a probe
/// on NaN features reports nonsense); saved, they would replace a good file with a useless one. The message
/// names the file or the step, and the first such tensor.</summary>
public sealed class NonFiniteValuesException(string message) : Exception(message);
