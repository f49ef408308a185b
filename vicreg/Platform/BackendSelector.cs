using Vicreg.Engine.Backends.Cpu;
using Vicreg.Engine.Backends.Cuda;

namespace Vicreg.Platform;

/// <summary>Turns a --device value (cpu, cuda, auto) into a backend, saying what it chose.</summary>
public static class BackendSelector
{
    /// <summary>Creates the CUDA backend when a device and the libraries are present; otherwise false and why.</summary>
    /// <remarks>Never throws: a missing library, a failing cuInit or an empty device list all become the
    /// reason, e.g. "libcuda.so.1 not found" or "cuInit failed: CUDA_ERROR_NO_DEVICE".</remarks>
    public static bool TryCreateCuda(out IBackend? backend, out string reason) => TryCreateCuda(allowTf32: true, out backend, out reason);

    /// <summary>As above; <paramref name="allowTf32"/> false keeps cuDNN convolutions in full float32 too (the --no-tf32 flag;
    /// GEMMs are float32 by default, as PyTorch's);
    /// <paramref name="deterministic"/> takes deterministic cuDNN algorithms only, never chosen by timing (--deterministic);
    /// <paramref name="localRank"/>, the process's index among the ranks on its machine, picks device localRank mod count
    /// (one rank per GPU, as NCCL needs).</summary>
    public static bool TryCreateCuda(bool allowTf32, out IBackend? backend, out string reason, bool deterministic = false, int localRank = 0)
    {
        backend = null;
        var probe = CudaProbe.Run();
        if (probe.Unavailable is { } why)
        {
            reason = why;
            return false;
        }
        try
        {
            backend = new CudaBackend(localRank % probe.Devices.Count, allowTf32, deterministic: deterministic);
            reason = "";
            return true;
        }
        catch (Exception e) // a probe: whatever stops the backend from starting becomes the reason
        {
            reason = e.Message;
            return false;
        }
    }

    /// <summary>The backend for a --device value. Says one line for the device chosen by auto, and one more whenever
    /// CUDA convolutions fall back to im2col + cuBLAS because cuDNN failed its start-up check. <paramref name="localRank"/>:
    /// see <see cref="TryCreateCuda(bool, out IBackend?, out string, bool, int)"/>.</summary>
    public static IBackend Resolve(string device, Action<string> say, bool allowTf32 = true, bool deterministic = false, int localRank = 0)
    {
        switch (device)
        {
            case "cpu":
                return CpuBackend.Instance;
            case "cuda":
                if (TryCreateCuda(allowTf32, out var cuda, out var why, deterministic, localRank)) return SayConvolutionFallback((CudaBackend)cuda!, say);
                throw new InvalidOperationException($"no CUDA device found: {why}");
            case "auto":
                if (TryCreateCuda(allowTf32, out var auto, out var whyNot, deterministic, localRank))
                {
                    say($"device: {auto!.Name} ({((CudaBackend)auto).Description})");
                    return SayConvolutionFallback((CudaBackend)auto, say);
                }
                say($"device: cpu ({CpuParallel.ThreadCount} threads; no CUDA: {whyNot})");
                return CpuBackend.Instance;
            default:
                throw new ArgumentException($"--device must be cpu, cuda or auto, got '{device}'");
        }
    }

    private static CudaBackend SayConvolutionFallback(CudaBackend cuda, Action<string> say)
    {
        if (!cuda.UsesCudnnConvolution) say($"convolutions: {cuda.ConvolutionPath}");
        return cuda;
    }
}
