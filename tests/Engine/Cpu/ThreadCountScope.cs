using Vicreg.Engine.Backends.Cpu;

namespace Vicreg.Tests.Engine.Cpu;

/// <summary>Sets <see cref="CpuParallel.ThreadCount"/> (and optionally forces a GEMM micro-kernel) for a
/// test and restores both on dispose.</summary>
internal sealed class ThreadCountScope : IDisposable
{
    private readonly int _threads = CpuParallel.ThreadCount;
    private readonly GemmPath _path = GemmKernel.ForcedPath;

    public ThreadCountScope(int threads, GemmPath path = GemmPath.Auto)
    {
        CpuParallel.ThreadCount = threads;
        GemmKernel.ForcedPath = path;
    }

    public void Dispose()
    {
        CpuParallel.ThreadCount = _threads;
        GemmKernel.ForcedPath = _path;
    }
}
