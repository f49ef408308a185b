namespace Vicreg.Tests.App.Commands;

/// <summary>Runs the program's Main in-process with stdout and stderr captured (tests run one at a time,
/// so swapping the process-wide console writers is safe).</summary>
internal static class CommandRunner
{
    public static (int Code, string Out, string Err) Run(params string[] args)
    {
        var oldOut = Console.Out;
        var oldErr = Console.Error;
        using var output = new StringWriter();
        using var error = new StringWriter();
        Console.SetOut(output);
        Console.SetError(error);
        try
        {
            int code = global::Vicreg.Program.Main(args);
            return (code, output.ToString(), error.ToString());
        }
        finally
        {
            Console.SetOut(oldOut);
            Console.SetError(oldErr);
        }
    }

    /// <summary>Asserts a usage error: exit code 2 and exactly one line on stderr containing <paramref name="expected"/>.</summary>
    public static void AssertUsageError((int Code, string Out, string Err) result, string expected)
    {
        Assert.Equal(2, result.Code);
        var lines = result.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, "expected one line on stderr, got: " + result.Err);
        Assert.Contains(expected, lines[0]);
        Assert.StartsWith("vicreg: ", lines[0]);
    }
}
