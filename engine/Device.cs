namespace Vicreg.Engine;

/// <summary>The backends new tensors land on. The core names no concrete backend: the program (and the tests and
/// benchmarks) install the host's at start-up, and may make another the default (--device).</summary>
public static class Device
{
    private static IBackend? s_cpu;
    private static IBackend? s_default;

    /// <summary>The host backend: where data-loader batches and host-side copies live.</summary>
    public static IBackend Cpu
    {
        get => s_cpu ?? throw new InvalidOperationException("no host backend installed: set Device.Cpu (e.g. to CpuBackend.Instance) at start-up");
        set => s_cpu = value;
    }

    /// <summary>Installs <paramref name="backend"/> as the host backend unless one is installed already (a library's entry
    /// point, which cannot know whether its application did); returns the host backend.</summary>
    public static IBackend InstallCpuIfAbsent(IBackend backend) => s_cpu ??= backend;

    /// <summary>Where new tensors land when none is named: the host backend unless set.</summary>
    public static IBackend Default
    {
        get => s_default ?? Cpu;
        set => s_default = value;
    }
}
