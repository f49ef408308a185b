using Vicreg.Engine;
using Vicreg.Engine.Backends.Cpu;
using Vicreg.Tests.Engine.Backends.Cuda;

namespace Vicreg.Tests.Conformance;

/// <summary>The conformance suite on a CUDA device (TF32 off): "skipped: no CUDA device" without one; test stage 2
/// runs it on the CPU emulation of tests/Cuda/Emulator, and tools/gpu-check.sh on a real GPU.</summary>
[Collection(CudaDeviceCollection.Name)]
public sealed class CudaConformanceTests : ConformanceSuite
{
    protected override IBackend Backend => CudaTestDevice.Require();
    protected override IBackend TrainingBaseline => CpuBackend.Instance;
}
