namespace Vicreg.Commands;

/// <summary>Placeholder until the training commands land: proves the program runs.</summary>
public sealed class DemoCommand : ICommand
{
    public string Name => "demo";
    public string Summary => "train a small network on synthetic data and print the falling loss";

    public int Run(Arguments args, string commandLine)
    {
        int steps = args.Int("steps", 200, "training steps", min: 1);
        if (args.HelpRequested) { Console.WriteLine(args.Usage(Summary)); return 0; }
        args.RejectUnknown();
        Console.WriteLine($"demo: {steps} steps (engine ops are being written)");
        return 0;
    }
}
