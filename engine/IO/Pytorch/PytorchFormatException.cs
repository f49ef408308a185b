namespace Vicreg.Engine.IO.Pytorch;

/// <summary>A .pth file that is damaged, or whose pickle asks for something the restricted unpickler
/// refuses (a global outside its list, an opcode it does not run); the message names the file.</summary>
public sealed class PytorchFormatException(string message) : WeightsFormatException(message);
