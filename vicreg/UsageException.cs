namespace Vicreg;

/// <summary>A mistake of the user's (a bad flag, a missing file, a shape that does not fit): the
/// program prints its message as one line and exits with code 2, never with a stack trace.</summary>
public sealed class UsageException(string message) : Exception(message);
