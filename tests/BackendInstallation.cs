using System.Runtime.CompilerServices;
using Vicreg.Engine;
using Vicreg.Engine.Backends.Cpu;

namespace Vicreg.Tests;

/// <summary>The core names no concrete backend: as the program does in Main, the test assembly installs the CPU
/// backend as the host's before any test runs.</summary>
internal static class BackendInstallation
{
#pragma warning disable CA2255 // a test assembly is an entry point of its own: this is its start-up
    [ModuleInitializer]
    internal static void InstallCpu() => Device.Cpu = CpuBackend.Instance;
#pragma warning restore CA2255
}
