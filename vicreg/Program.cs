using System.Reflection;
using Vicreg.Commands;
using Vicreg.Engine;
using Vicreg.Engine.Backends.Cpu;
using Vicreg.Platform;

namespace Vicreg;

public static class Program
{
    /// <summary>Every command the program knows, in the order --help lists them.</summary>
    internal static readonly ICommand[] Commands =
    [
        new PretrainCommand(),
        new LinearEvalCommand(),
        new KnnEvalCommand(),
        new FineTuneCommand(),
        new DevicesCommand(),
        new LossGradCommand(),
        new EmbedCommand(),
        new ConvertCommand(),
        new PlotCommand(),
    ];

    public static int Main(string[] args)
    {
        Device.Cpu = CpuBackend.Instance; // the core names no concrete backend: the program chooses
        if (args.Length == 0 || args[0] is "--help" or "-h" or "help")
        {
            Console.WriteLine(Help());
            return 0;
        }
        if (args[0] is "--version" or "version")
        {
            Console.WriteLine($"vicreg {Version}");
            return 0;
        }
        var command = Commands.FirstOrDefault(c => c.Name == args[0]);
        if (command is null)
        {
            if (Communicators.ReportsForTheJob) Console.Error.WriteLine($"vicreg: unknown command '{args[0]}' (see 'vicreg --help')");
            return 2;
        }
        if (command is not PretrainCommand && Communicators.LauncherSize > 1)
        {
            // linear-eval and embed are cheap next to pretraining: one process, never n copies writing the same files.
            if (Communicators.ReportsForTheJob) Console.Error.WriteLine($"vicreg: {command.Name} runs in one process; start it without mpirun (or with -np 1)");
            return 2;
        }
        try
        {
            return command.Run(new Arguments(command.Name, args[1..]), Arguments.CommandLine(args));
        }
        catch (UsageException e)
        {
            // Raised before the ranks can talk (flags, MPI start-up): every rank meets it alike, and rank 0 says it.
            if (Communicators.ReportsForTheJob) Console.Error.WriteLine($"vicreg: {e.Message}");
            return 2;
        }
    }

    public static string Version =>
        typeof(Program).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";

    private static string Help()
    {
        var w = new System.Text.StringBuilder();
        w.AppendLine($"vicreg {Version}: self-supervised VICReg pretraining on a from-scratch C# engine");
        w.AppendLine();
        w.AppendLine("usage: vicreg <command> [flags]      (vicreg <command> --help for its flags)");
        w.AppendLine();
        w.AppendLine("commands:");
        int width = Commands.Max(c => c.Name.Length) + 2;
        foreach (var c in Commands) w.AppendLine($"  {c.Name.PadRight(width)}{c.Summary}");
        w.AppendLine();
        w.AppendLine("  --version    print the version");
        return w.ToString().TrimEnd();
    }
}
