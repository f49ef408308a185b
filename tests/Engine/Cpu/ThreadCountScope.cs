using Vicreg.Engine.Backends.Cpu;

namespace Vicreg.Tests.Engine.Cpu;

/// <summary>Sets <see cref="CpuParallel.ThreadCount"/> (and optionally the GEMM's portable path) for a
/// test and restores both on dispose.</summary>
internal sealed class ThreadCountScope : IDisposable
{
    private readonly int _threads = CpuParallel.ThreadCount;
    private readonly bool _portable = GemmKernel.ForcePortable;

    public ThreadCountScope(int threads, bool portable = false)
    {
        CpuParallel.ThreadCount = threads;
        GemmKernel.ForcePortable = portable;
    }

    public void Dispose()
    {
        CpuParallel.ThreadCount = _threads;
        GemmKernel.ForcePortable = _portable;
    }
}
