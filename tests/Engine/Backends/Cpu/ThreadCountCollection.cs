namespace Vicreg.Tests.Engine.Backends.Cpu;

/// <summary>Tests that change process-wide kernel settings (<c>CpuParallel.ThreadCount</c>, the GEMM's
/// forced portable path) join this collection, which xunit runs alone, after the parallel ones: another
/// test must never see the thread count change under it.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ThreadCountCollection
{
    public const string Name = "CPU thread count";
}
