using Vicreg.Engine;
using Vicreg.Engine.Backends.Cpu;
using Vicreg.Tests.Reference;

namespace Vicreg.Tests.Conformance;

/// <summary>The conformance suite on the CPU backend (test stage 1; stage 3 again on the AVX2 path).</summary>
public sealed class CpuConformanceTests : ConformanceSuite
{
    protected override IBackend Backend => CpuBackend.Instance;
    protected override IBackend TrainingBaseline => ReferenceBackend.Instance;
}
