using System.Runtime.InteropServices;

namespace Vicreg.Commands;

/// <summary>While alive, turns the first Ctrl-C or SIGTERM into a polite stop request (the command finishes
/// its current step, then does what <c>message</c>, printed on the first Ctrl-C, says); a second Ctrl-C
/// ends the process at once.</summary>
public sealed class InterruptHandler : IDisposable
{
    private readonly Action _requestStop;
    private readonly PosixSignalRegistration _sigterm;
    private readonly string _message;
    private int _count;

    public InterruptHandler(Action requestStop, string message)
    {
        _requestStop = requestStop;
        _message = message;
        Console.CancelKeyPress += OnCancel;
        _sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, ctx =>
        {
            ctx.Cancel = true;
            Request();
        });
    }

    private void OnCancel(object? sender, ConsoleCancelEventArgs e)
    {
        if (Interlocked.Increment(ref _count) > 1) return; // second Ctrl-C: let the runtime end the process
        e.Cancel = true;
        Console.Error.WriteLine("\n" + _message);
        _requestStop();
    }

    private void Request()
    {
        Interlocked.Increment(ref _count);
        _requestStop();
    }

    public void Dispose()
    {
        Console.CancelKeyPress -= OnCancel;
        _sigterm.Dispose();
    }
}
