using System.Runtime.InteropServices;

namespace Vicreg.Commands;

/// <summary>While alive, turns the first Ctrl-C or SIGTERM into a polite stop request (the command finishes
/// its current step, then does what <c>message</c>, printed on the first Ctrl-C, says); a second Ctrl-C
/// ends the process at once. A command that stopped this way exits with <see cref="ExitCode"/>, the shell's
/// convention of 128 + the signal's number: 130 after Ctrl-C (SIGINT), 143 after SIGTERM.</summary>
public sealed class InterruptHandler : IDisposable
{
    public const int SigintExitCode = 128 + 2;
    public const int SigtermExitCode = 128 + 15;

    private readonly Action _requestStop;
    private readonly PosixSignalRegistration _sigterm;
    private readonly string _message;
    private int _count;
    private int _exitCode = SigintExitCode;

    public InterruptHandler(Action requestStop, string message)
    {
        _requestStop = requestStop;
        _message = message;
        Console.CancelKeyPress += OnCancel;
        _sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, ctx =>
        {
            ctx.Cancel = true;
            Request(SigtermExitCode);
        });
    }

    /// <summary>The exit code of a command stopped by the first signal received (130 when none was).</summary>
    public int ExitCode => Volatile.Read(ref _exitCode);

    private void OnCancel(object? sender, ConsoleCancelEventArgs e)
    {
        if (Interlocked.Increment(ref _count) > 1) return; // second Ctrl-C: let the runtime end the process
        e.Cancel = true;
        Volatile.Write(ref _exitCode, SigintExitCode);
        Console.Error.WriteLine("\n" + _message);
        _requestStop();
    }

    private void Request(int exitCode)
    {
        if (Interlocked.Increment(ref _count) == 1) Volatile.Write(ref _exitCode, exitCode);
        _requestStop();
    }

    public void Dispose()
    {
        Console.CancelKeyPress -= OnCancel;
        _sigterm.Dispose();
    }
}
