using Vicreg.Platform;
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
        using var communicator = CommandErrors.Guard(() => Communicators.Create(options.Dist));
        if (communicator.Size > 1) Communicators.ShareCores();
        if (options.DatasetNote is not null && communicator.Rank == 0) Console.WriteLine(options.DatasetNote);
        var trainer = new Pretrainer(options, commandLine, communicator.Rank == 0 ? Console.Out : TextWriter.Null, communicator);
        using var interrupts = new InterruptHandler(trainer.RequestStop,
            "interrupt: finishing the current step and saving a checkpoint (Ctrl-C again to abort)");
        var result = RankFailure.Guard(communicator, () => CommandErrors.Guard(() => trainer.Run()));
        return result.Interrupted ? interrupts.ExitCode : 0;
    }
}
