namespace Vicreg.Commands;

/// <summary>
/// The frame of a command that Ctrl-C (or SIGTERM) cancels rather than checkpoints: the work gets a token the
/// interrupt handler cancels; a user's mistake or a bad file becomes one line (<see cref="CommandErrors.Guard"/>);
/// a cancelled run exits 130 (143) after the handler's one line, and writes nothing.
/// </summary>
internal static class CancellableCommand
{
    /// <summary>Runs <paramref name="work"/> and returns its exit code, or the interrupt's.</summary>
    public static int Run(string interruptMessage, Func<CancellationToken, int> work)
    {
        using var stop = new CancellationTokenSource();
        using var interrupts = new InterruptHandler(stop.Cancel, interruptMessage);
        try
        {
            return CommandErrors.Guard(() => work(stop.Token));
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            return interrupts.ExitCode; // the interrupt handler has printed the one line
        }
    }
}
