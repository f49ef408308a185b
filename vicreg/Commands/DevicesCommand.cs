using Vicreg.Engine.Backends.Cpu;
using Vicreg.Engine.Backends.Cuda;
using Vicreg.Platform;

namespace Vicreg.Commands;

/// <summary>`vicreg devices`: what hardware and which NVIDIA libraries this machine offers, and what
/// `--device auto` would pick. Works (and says why) on machines without a driver.</summary>
public sealed class DevicesCommand : ICommand
{
    public string Name => "devices";
    public string Summary => "list CUDA devices, the NVIDIA libraries found (with versions) and the CPU fallback";

    public int Run(Arguments args, string commandLine)
    {
        if (args.HelpRequested) { Console.WriteLine(args.Usage(Summary)); return 0; }
        args.RejectUnknown();
        var probe = CudaProbe.Run();

        Console.WriteLine($"CUDA driver: {(probe.DriverVersion is { } v ? $"supports CUDA {v} ({CudaInstallation.DriverLibrary})" : "none")}");
        if (probe.DriverProblem is { } problem) Console.WriteLine($"  {problem}");
        Console.WriteLine("libraries:");
        foreach (var (library, loaded, detail) in CudaInstallation.Libraries(probe))
        {
            string name = library.PadRight(12);
            Console.WriteLine(loaded is null ? $"  {name}missing ({detail})" : $"  {name}{loaded}, version {detail}");
        }
        if (CudaInstallation.NvrtcArchitectures() is { } nvrtc) Console.WriteLine($"  {nvrtc}");
        Console.WriteLine($"kernel cache: {CudaInstallation.KernelCacheDirectory}");

        Console.WriteLine(probe.Devices.Count == 0 ? "CUDA devices: none" : "CUDA devices:");
        foreach (var d in probe.Devices)
            Console.WriteLine($"  cuda:{d.Ordinal}  {d.Name}  compute capability {d.ComputeMajor}.{d.ComputeMinor}  {d.Multiprocessors} SMs  " +
                              $"{d.TotalBytes / (double)(1L << 30):0.0} GiB");
        Console.WriteLine($"CPU: {Environment.ProcessorCount} logical cores, {CpuParallel.ThreadCount} worker threads");
        if (probe.Unavailable is { } why)
        {
            Console.WriteLine($"--device auto: cpu (no CUDA: {why})");
            return 0;
        }
        // Starting the backend is the real check: it loads every kernel module and runs cuDNN's start-up convolutions.
        if (BackendSelector.TryCreateCuda(out var backend, out var reason))
        {
            using var cuda = (CudaBackend)backend!;
            Console.WriteLine($"convolutions: {cuda.ConvolutionPath}");
            Console.WriteLine("--device auto: cuda:0");
        }
        else Console.WriteLine($"--device auto: cpu (the CUDA backend failed to start: {reason})");
        return 0;
    }
}
