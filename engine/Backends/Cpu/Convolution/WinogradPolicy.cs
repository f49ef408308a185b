namespace Vicreg.Engine.Backends.Cpu.Convolution;

/// <summary>Whether convolutions go through Winograd F(2x2, 3x3) where it applies.</summary>
internal enum WinogradMode
{
    /// <summary>Where it pays (see <see cref="WinogradPolicy.Use{T}"/>).</summary>
    Auto,
    /// <summary>Every convolution it can compute (tests of the Winograd path at any size and type).</summary>
    On,
    /// <summary>Never (tests of the im2col path, and comparisons).</summary>
    Off,
}

/// <summary>
/// Which convolutions take the Winograd path. It computes 3x3, stride-1 convolutions with padding 0 to 2
/// (backward-data is then a forward convolution with padding 2 - pad). It pays when the 16 products have
/// enough channels to run at the GEMM's rate; the 3-channel stem stays on im2col, whose single GEMM of
/// depth 27 does better than sixteen of depth 3.
/// </summary>
internal static class WinogradPolicy
{
    /// <summary>Overrides the choice (tests force it on or off); <see cref="WinogradMode.Auto"/> in production.</summary>
    internal static WinogradMode Forced { get; set; }

    /// <summary>Input and output channels both at least this many in <see cref="WinogradMode.Auto"/>.</summary>
    internal const int MinChannels = 16;

    /// <summary>Whether F(2x2, 3x3) can compute <paramref name="g"/> at all.</summary>
    public static bool Supports(in Conv2dGeometry g)
        => g.KernelHeight == 3 && g.KernelWidth == 3 && g.StrideHeight == 1 && g.StrideWidth == 1
           && (uint)g.PadHeight <= 2 && (uint)g.PadWidth <= 2
           && g.OutHeight > 0 && g.OutWidth > 0 && g.InChannels > 0 && g.OutChannels > 0 && g.Batch > 0;

    /// <summary>Whether the convolution <paramref name="g"/> on element type <typeparamref name="T"/> goes through Winograd.</summary>
    public static bool Use<T>(in Conv2dGeometry g) where T : unmanaged => Forced switch
    {
        WinogradMode.Off => false,
        WinogradMode.On => Supports(g),
        // float64 only runs in tests and gradient checks, where the exact im2col sums are the better reference.
        _ => typeof(T) == typeof(float) && Supports(g) && g.InChannels >= MinChannels && g.OutChannels >= MinChannels,
    };
}
