using Vicreg.Engine;
using Vicreg.Engine.Backends.Cpu;
using Vicreg.Engine.IO;
using Vicreg.Engine.IO.Pytorch;

namespace Vicreg.Commands;

/// <summary>
/// `vicreg convert IN OUT`: copies the tensors of a weights file into another format. IN is read by its
/// content (a torch.save file in the zip or the legacy format, through the restricted unpickler, or
/// safetensors); OUT's extension chooses what is written: .safetensors, or .pth/.pt (torch.save's zip
/// format, readable with torch.load(f, weights_only=True)). Every tensor keeps its name and shape and
/// becomes contiguous; half types widen to float32, int64 narrows to int32 (checked value by value) and is
/// written back as int64 only for BatchNorm's num_batches_tracked, as PyTorch keeps it.
/// </summary>
public sealed class ConvertCommand : ICommand
{
    public string Name => "convert";
    public string Summary => "convert weights between PyTorch .pth (zip or legacy format) and safetensors";

    public int Run(Arguments args, string commandLine)
    {
        string? input = args.Positional(0, "IN", "a .pth written by torch.save (zip or legacy format) or a .safetensors file; told apart by content");
        string? output = args.Positional(1, "OUT", "the file to write: .safetensors, or .pth / .pt (torch.save's zip format)");
        if (args.HelpRequested)
        {
            Console.WriteLine(args.Usage(Summary + ".\n" +
                "IN's pickle is read by a restricted unpickler that runs nothing and refuses any global a state dict does not need.\n" +
                "A checkpoint's 'state_dict' or 'model' entry is converted when the top level holds no tensors; names are kept as they are."));
            return 0;
        }
        args.RejectUnknown();
        if (input is null || output is null) throw new UsageException($"{Name}: give the input and the output file: vicreg convert IN OUT");
        bool toPytorch = output.EndsWith(".pth", StringComparison.OrdinalIgnoreCase) || output.EndsWith(".pt", StringComparison.OrdinalIgnoreCase);
        if (!toPytorch && !output.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase))
            throw new UsageException($"{Name}: the output's extension chooses its format: .safetensors, .pth or .pt (got {output})");
        if (!File.Exists(input)) throw new UsageException($"{Name}: input file not found: {input}");

        return CommandErrors.Guard(() =>
        {
            using var file = WeightsFile.Open(input);
            using var scope = TensorScope.Begin();
            var tensors = file.Tensors.Select(t => (t.Name, file.ReadTensor(t.Name, CpuBackend.Instance))).ToList();
            if (toPytorch) PytorchWriter.Write(output, tensors);
            else SafetensorsWriter.Write(output, tensors, new Dictionary<string, string> { ["format"] = "pt" });
            Console.WriteLine($"{Name}: {Path.GetFileName(input)} ({file.FormatDescription}) -> {output}: {tensors.Count} tensors");
            return 0;
        });
    }
}
