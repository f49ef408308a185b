using System.Runtime.Intrinsics.X86;

namespace Vicreg.Engine.Backends.Cpu.Convolution;

/// <summary>Whether convolutions go through Winograd (F(2x2, 3x3) or F(4x4, 3x3)) where it applies.</summary>
internal enum WinogradMode
{
    /// <summary>Where it pays (see <see cref="WinogradPolicy.Use{T}"/>).</summary>
    Auto,
    /// <summary>Every convolution it can compute, through F(2x2, 3x3) (tests of that path at any size and type).</summary>
    On,
    /// <summary>Every convolution it can compute, through F(4x4, 3x3) where that runs (float with AVX2), the rest
    /// through F(2x2, 3x3).</summary>
    F4x4,
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
        WinogradMode.On or WinogradMode.F4x4 => Supports(g),
        // float64 only runs in tests and gradient checks, where the exact im2col sums are the better reference.
        _ => typeof(T) == typeof(float) && Supports(g) && g.InChannels >= MinChannels && g.OutChannels >= MinChannels,
    };

    /// <summary>Whether a convolution that goes through Winograd (<see cref="Use{T}"/>) computes its forward and
    /// backward-data through F(4x4, 3x3) rather than F(2x2, 3x3): a quarter of the direct method's multiplies
    /// instead of 4/9, for transforms that cost more per output and round more coarsely. Float with AVX2 only.
    /// The weight gradient decides apart (<see cref="UseF4Gradient{T}"/>).</summary>
    public static bool UseF4<T>(in Conv2dGeometry g) where T : unmanaged
        => F4For<T>(g, (long)g.InChannels * g.OutChannels <= MaxNarrowF4Filters ? MinF4NarrowSize : MinF4Size);

    /// <summary>In <see cref="WinogradMode.Auto"/>, F(4x4, 3x3) for outputs at least this many pixels on a side.</summary>
    internal const int MinF4Size = 8;

    /// <summary>In <see cref="WinogradMode.Auto"/>, F(4x4, 3x3) also for outputs of 4x4 to 7x7 when there are at most
    /// <see cref="MaxNarrowF4Filters"/> (C x K) filters. Measured at batch 128 on the quickstart's layers, F(4x4) ran
    /// 1.2-1.4x faster than F(2x2) at 64 channels on 7x7 and 128 on 4x4, forward and backward-data, 1 and 2 threads;
    /// at batch 64 on ResNet-18's 512 channels on 4x4 the two were even (F(4x4)'s 36 packed filter matrices, 36 MiB,
    /// are streamed for only 64 tiles each).</summary>
    internal const int MinF4NarrowSize = 4;

    /// <summary>The most filters (C x K) for which <see cref="MinF4NarrowSize"/> applies.</summary>
    internal const int MaxNarrowF4Filters = 128 * 128;

    /// <summary>Whether a convolution that goes through Winograd (<see cref="Use{T}"/>) computes its weight gradient
    /// through F(4x4, 3x3) rather than F(2x2, 3x3) (<see cref="WinogradF4BackwardFilter"/>): 9/16 of F(2x2)'s GEMM
    /// work. Float with AVX2 only. Measured at batch 64 on ResNet-18's layers (32x32 down to 4x4 outputs, 64 to
    /// 512 channels) and the quickstart's narrow ones (16 to 128 channels, 28x28 down to 4x4), it ran 1.05-1.8x
    /// faster than F(2x2) on every one, at one thread and two; below 4x4 a tile would be mostly padding. The price:
    /// against float64 sums its error is 3-6x F(2x2)'s in rms (about 5e-7 of max|dW| on those layers, im2col's 6e-8).</summary>
    public static bool UseF4Gradient<T>(in Conv2dGeometry g) where T : unmanaged => F4For<T>(g, MinF4GradientSize);

    /// <summary>In <see cref="WinogradMode.Auto"/>, the weight gradient through F(4x4, 3x3) for outputs at least this
    /// many pixels on a side.</summary>
    internal const int MinF4GradientSize = 4;

    /// <summary>F(4x4, 3x3) for float with AVX2: forced by <see cref="WinogradMode.F4x4"/> and <see cref="WinogradMode.On"/>
    /// (F(2x2) then), else for outputs at least <paramref name="minSize"/> pixels on a side.</summary>
    private static bool F4For<T>(in Conv2dGeometry g, int minSize) where T : unmanaged
        => typeof(T) == typeof(float) && Avx2.IsSupported && Forced switch
        {
            WinogradMode.F4x4 => true,
            WinogradMode.On => false,
            _ => g.OutHeight >= minSize && g.OutWidth >= minSize,
        };
}
