using System.Diagnostics;

namespace Vicreg.Tests.App.Commands;

/// <summary>The real `vicreg` program (the vicreg.dll built beside the tests) in a child process, for what an
/// in-process run cannot show: signals and exit codes as the shell sees them.</summary>
internal sealed class ProgramProcess : IDisposable
{
    private readonly Process _process;
    private readonly List<string> _lines = [];
    private readonly TaskCompletionSource _stdoutClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Task<string> _stderr;

    public ProgramProcess(params string[] args)
    {
        var info = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "vicreg.dll"));
        foreach (var a in args) info.ArgumentList.Add(a);
        _process = Process.Start(info) ?? throw new InvalidOperationException("could not start vicreg");
        _process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) { _stdoutClosed.TrySetResult(); return; }
            lock (_lines) _lines.Add(e.Data);
        };
        _process.BeginOutputReadLine();
        _stderr = _process.StandardError.ReadToEndAsync();
    }

    public string Output { get { lock (_lines) return string.Join('\n', _lines); } }

    /// <summary>Waits until a line of stdout contains <paramref name="text"/>; false if the program ended first or time ran out.</summary>
    public bool WaitForOutput(string text, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            lock (_lines) if (_lines.Any(l => l.Contains(text, StringComparison.Ordinal))) return true;
            if (_process.HasExited) return false;
            Thread.Sleep(50);
        }
        return false;
    }

    /// <summary>Sends a POSIX signal by its name (TERM, INT) with the system's kill command.</summary>
    public void Signal(string name)
    {
        using var kill = Process.Start("kill", ["-" + name, _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
        Assert.Equal(0, kill.ExitCode);
    }

    /// <summary>Waits for the program to end; its exit code and everything it wrote to stderr.</summary>
    public (int Code, string Err) WaitForExit(TimeSpan timeout)
    {
        if (!_process.WaitForExit(timeout))
        {
            _process.Kill(entireProcessTree: true);
            Assert.Fail($"vicreg did not end within {timeout}; stdout so far:\n{Output}");
        }
        _stdoutClosed.Task.Wait(timeout);
        return (_process.ExitCode, _stderr.Result);
    }

    public void Dispose()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        _process.Dispose();
    }
}
