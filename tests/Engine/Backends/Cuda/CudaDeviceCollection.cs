namespace Vicreg.Tests.Engine.Backends.Cuda;

/// <summary>The tests that drive a CUDA device run one at a time: on the CPU emulation the fakes hold process-wide state
/// (injected faults, one kernel at a time), and on a GPU they share it.</summary>
[CollectionDefinition(Name)]
public sealed class CudaDeviceCollection
{
    public const string Name = "CUDA device";
}
