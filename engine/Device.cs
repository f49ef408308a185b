using Vicreg.Engine.Backends.Cpu;

namespace Vicreg.Engine;

/// <summary>The backend new tensors land on when none is named.</summary>
public static class Device
{
    private static IBackend? s_default;

    public static IBackend Cpu => CpuBackend.Instance;

    public static IBackend Default
    {
        get => s_default ?? CpuBackend.Instance;
        set => s_default = value;
    }
}
