using Vicreg.Engine.Backends.Cpu.Convolution;
using Vicreg.Engine.Backends.Cpu.Gemm;
using Vicreg.Engine.Backends.Cpu;

namespace Vicreg.Tests.Engine.Backends.Cpu;

/// <summary>Sets <see cref="CpuParallel.ThreadCount"/> (and optionally forces a GEMM micro-kernel and the
/// Winograd convolution path on or off) for a test and restores all three on dispose.</summary>
internal sealed class ThreadCountScope : IDisposable
{
    private readonly int _threads = CpuParallel.ThreadCount;
    private readonly GemmPath _path = GemmKernel.ForcedPath;
    private readonly WinogradMode _winograd = WinogradPolicy.Forced;

    public ThreadCountScope(int threads, GemmPath path = GemmPath.Auto, WinogradMode winograd = WinogradMode.Auto)
    {
        CpuParallel.ThreadCount = threads;
        GemmKernel.ForcedPath = path;
        WinogradPolicy.Forced = winograd;
    }

    public void Dispose()
    {
        CpuParallel.ThreadCount = _threads;
        GemmKernel.ForcedPath = _path;
        WinogradPolicy.Forced = _winograd;
    }
}
