using Vicreg.Engine.Data;
using Vicreg.Training;

namespace Vicreg.Commands;

/// <summary>`vicreg pretrain`: VICReg pretraining with the official flag names.</summary>
public sealed class PretrainCommand : ICommand
{
    public string Name => "pretrain";
    public string Summary => PretrainOptions.Summary;

    public int Run(Arguments args, string commandLine)
    {
        var options = PretrainOptions.Parse(args);
        if (args.HelpRequested)
        {
            Console.WriteLine(args.Usage(Summary + ".\nCtrl-C stops after the current step and saves a checkpoint; the same command resumes."));
            return 0;
        }
        args.RejectUnknown();
        if (options.DatasetNote is not null) Console.WriteLine(options.DatasetNote);
        var trainer = new Pretrainer(options, commandLine, Console.Out);
        using var interrupts = new InterruptHandler(trainer.RequestStop,
            "interrupt: finishing the current step and saving a checkpoint (Ctrl-C again to abort)");
        var result = CommandErrors.Guard(() => trainer.Run());
        return result.Interrupted ? interrupts.ExitCode : 0;
    }
}
