using System.Diagnostics;

namespace Vicreg.Tests.Engine.IO;

/// <summary>
/// Runs the PyTorch reference scripts in tools/reference under /usr/bin/python3 (Debian's python3-torch;
/// PyTorch is a tool of the tests, never a dependency of the product). Tests that need it call
/// <see cref="SkipUnlessTorch"/>, which skips with the reason when that interpreter or torch is absent.
/// Such tests carry [Trait("Reference", "PyTorch")]: they take seconds each (a Python start and a torch
/// import), so a quick run can leave them out with --filter "Reference!=PyTorch".
/// </summary>
public static class PythonReference
{
    public const string Interpreter = "/usr/bin/python3";
    private static readonly Lazy<string?> s_unavailable = new(Probe);

    /// <summary>Why PyTorch cannot be used here, or null when it can.</summary>
    public static string? UnavailableReason => s_unavailable.Value;

    public static void SkipUnlessTorch(bool needTorchvision = false)
    {
        Skip.If(UnavailableReason is not null, UnavailableReason);
        if (needTorchvision) Skip.If(!s_torchvision.Value, $"{Interpreter} has torch but not torchvision");
    }

    private static readonly Lazy<bool> s_torchvision = new(() => Run(["-c", "import torchvision"], throwOnError: false).ExitCode == 0);

    private static string? Probe()
    {
        if (!File.Exists(Interpreter)) return $"{Interpreter} does not exist (PyTorch reference tests need Debian's python3-torch)";
        var r = Run(["-c", "import torch"], throwOnError: false);
        return r.ExitCode == 0 ? null : $"{Interpreter} cannot import torch: {r.StandardError.Trim()}";
    }

    public static string RepositoryRoot { get; } = FindRoot();

    private static string FindRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Vicreg.sln"))) return d.FullName;
        throw new InvalidOperationException("cannot find the repository root (Vicreg.sln) above " + AppContext.BaseDirectory);
    }

    public static string Script(string name) => Path.Combine(RepositoryRoot, "tools", "reference", name);

    /// <summary>Runs a reference script with arguments; returns its standard output, failing the test on a non-zero exit.</summary>
    public static string RunScript(string script, params string[] args)
    {
        var r = Run([Script(script), .. args], throwOnError: true);
        return r.StandardOutput;
    }

    public readonly record struct Result(int ExitCode, string StandardOutput, string StandardError);

    public static Result Run(IReadOnlyList<string> args, bool throwOnError)
    {
        var info = new ProcessStartInfo(Interpreter)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in args) info.ArgumentList.Add(a);
        // One thread: the machine is shared, and the reference results must not depend on the thread count.
        info.Environment["OMP_NUM_THREADS"] = "1";
        using var p = Process.Start(info) ?? throw new InvalidOperationException("could not start " + Interpreter);
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(120_000))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{Interpreter} {string.Join(' ', args)} did not finish in 120 s");
        }
        var result = new Result(p.ExitCode, stdout.Result, stderr.Result);
        if (throwOnError && result.ExitCode != 0)
            throw new InvalidOperationException($"{Interpreter} {string.Join(' ', args)} failed ({result.ExitCode}): {result.StandardError}");
        return result;
    }
}

/// <summary>A folder under the system temp directory, deleted with its contents at the end of a test.</summary>
public sealed class TempFolder : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("vicreg-test-").FullName;
    public string File(string name) => System.IO.Path.Combine(Path, name);
    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}
