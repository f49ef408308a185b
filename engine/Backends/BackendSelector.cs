using Vicreg.Engine.Backends.Cpu;

namespace Vicreg.Engine;

/// <summary>Turns a --device value (cpu, cuda, auto) into a backend, saying what it chose.</summary>
public static class BackendSelector
{
    /// <summary>Creates the CUDA backend when a device and the libraries are present; otherwise false and why.</summary>
    public static bool TryCreateCuda(out IBackend? backend, out string reason)
    {
        backend = null;
        reason = "the CUDA backend is not built yet";
        return false;
    }

    public static IBackend Resolve(string device, Action<string> say)
    {
        switch (device)
        {
            case "cpu":
                return CpuBackend.Instance;
            case "cuda":
                if (TryCreateCuda(out var cuda, out var why)) return cuda!;
                throw new InvalidOperationException($"no CUDA device found: {why}");
            case "auto":
                if (TryCreateCuda(out var auto, out var whyNot)) { say($"device: cuda ({auto!.Name})"); return auto; }
                say($"device: cpu ({CpuParallel.ThreadCount} threads; no CUDA: {whyNot})");
                return CpuBackend.Instance;
            default:
                throw new ArgumentException($"--device must be cpu, cuda or auto, got '{device}'");
        }
    }
}
