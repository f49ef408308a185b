using Vicreg.Engine.Backends.Cpu.Convolution;
using Vicreg.Engine.Backends.Cpu;
using Vicreg.Engine;

namespace Vicreg.Tests.Engine.Backends.Cpu;

/// <summary>
/// The Winograd F(2x2, 3x3) path (forced on) against the direct loops, in all three directions, at awkward
/// sizes: odd and tiny images (partial tiles at the right and bottom edges, a single pixel), non-square
/// ones, rows of tiles longer and shorter than a vector (the layouts vectorized over tiles and over
/// channels, <see cref="WinogradSmallImages"/>), channel counts not multiples of the vector width,
/// padding 0, 1 and 2, batch 1 and 3, one and two threads.
/// <para>Error bound. Winograd sums products of transformed values, not of the inputs: per channel, an
/// output is Σ_e a_e U_e V_e with |V_e| &lt;= 4 max|x| (each row of B^T has two ±1), |U_e| &lt;= r_i r_j max|w|
/// (r = [1, 1.5, 1.5, 1], the row sums of |G|), and the output weights a_e from A^T, so
/// Σ_e |a_e U_e V_e| &lt;= 4 (Σ_i |A^T_0i| r_i)^2 max|w| max|x| = 64 max|w| max|x|. The weight gradient is
/// Σ over tiles of G^T (A dy A^T ⊙ V) G, bounded likewise by 4 (Σ_i |G_i0| (|A| row sums)_i)^2 = 36
/// max|dy| max|x| per tile. Each result is a sum of such terms computed with at most depth + ~10 roundings
/// (the GEMM's depth plus the transforms' few levels of additions), so the classical bound
/// |error| &lt;= γ_(depth+16) Σ|terms| holds with Σ|terms| &lt;= 64 · C · max|w| max|x| (forward), and so on.
/// That is the output's scale, not each element's: an element near zero may carry the rounding of large
/// intermediate terms. A misplaced or dropped tile, tap or channel shows as an error of the order of the
/// outputs themselves, far above it.</para>
/// <para>F(4x4, 3x3) (float): the row sums of |B^T| are (10, 10, 10, 6, 6, 10) and of |G| (1/4, 1/2, 1/2, 7/24,
/// 7/24, 1), so Σ_e |a_e U_e V_e| &lt;= (max_p Σ_i |A^T_pi| |G|_i |B^T|_i)^2 max|w| max|x| = 48^2 = 2304 max|w| max|x|
/// per channel (the last output row, weights 1, 1, 8, 8, 1, dominates); the transforms add a few more levels of
/// rounding than F(2x2)'s, so the depth term is depth + 32. The weight gradient's tap (r, s) sums, per 4x4 tile,
/// G_ir G_js (A dy A^T)_ij V_ij, with |A dy A^T|_ij &lt;= a_i a_j max|dy| (a = (1, 4, 4, 15, 15, 1), the row sums
/// of |A|): (max_r Σ_i |G_ir| a_i |B^T|_i)^2 = (160/3)^2 &lt; 2845 max|dy| max|x| per tile (tap column 2, whose
/// weights 1/6 meet the large a_3, a_4), over a quarter as many tiles as F(2x2)'s.</para>
/// </summary>
[Collection(ThreadCountCollection.Name)]
public sealed class WinogradConvolutionTests
{
    /// <summary>(batch, C, H, W, K, pad): 3x3 kernels, stride 1.</summary>
    private static readonly (int N, int C, int H, int W, int K, int Pad)[] Shapes =
    [
        (1, 1, 1, 1, 1, 1),     // one pixel, one partial tile
        (3, 3, 2, 5, 16, 1),    // 2x5 output: a partial tile column
        (1, 16, 3, 7, 17, 0),   // 1x5: a partial tile row and column
        (3, 17, 5, 3, 3, 2),    // 7x5 at padding 2
        (1, 64, 7, 13, 64, 1),  // 7x13
        (3, 64, 13, 7, 1, 2),   // 15x9, one output channel
        (1, 3, 32, 32, 16, 1),  // 32x32: tile rows of 16, whole vectors
        (1, 16, 32, 13, 17, 0), // 30x11
        (3, 17, 13, 32, 16, 2), // 15x34: tile rows of 17, a vector and a remainder
        (1, 1, 32, 7, 64, 2),   // 34x9
        (3, 64, 2, 2, 64, 2),   // 4x4, as ResNet's last stage: blocks span images
        (3, 17, 16, 16, 16, 1), // 16x16: 8 tiles a row, the most the channel-vectorized layout takes
        (3, 16, 5, 5, 64, 0),   // 3x3
        (1, 3, 1, 13, 3, 1),    // 1x13
        (3, 1, 7, 1, 17, 2),    // 9x3
        (4, 5, 32, 32, 7, 1),   // 32x32, batch 4: on two threads the weight gradient splits the batch (64 F(4x4) tiles an image)
    ];

    private static Conv2dGeometry Geometry(int shape)
    {
        var s = Shapes[shape];
        return new Conv2dGeometry(s.N, s.C, s.H, s.W, s.K, 3, 3, 1, 1, s.Pad, s.Pad);
    }

    public static TheoryData<int, int> Cases() => KernelTestSupport.CasesOnOneAndTwoThreads(Shapes.Length);

    public static TheoryData<int> ShapeIndices()
    {
        var data = new TheoryData<int>();
        for (int i = 0; i < Shapes.Length; i++) data.Add(i);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Float32MatchesDirectLoops(int shape, int threads) => CheckAll<float>(Geometry(shape), threads, 1000 + (ulong)shape * 10);

    [Theory]
    [MemberData(nameof(Cases))]
    public void Float32F4x4MatchesDirectLoops(int shape, int threads) => CheckAll<float>(Geometry(shape), threads, 3000 + (ulong)shape * 10, WinogradMode.F4x4);

    [Theory]
    [MemberData(nameof(Cases))]
    public void Float64MatchesDirectLoops(int shape, int threads) => CheckAll<double>(Geometry(shape), threads, 2000 + (ulong)shape * 10);

    [Fact]
    public void SupportsOnlyThreeByThreeStrideOneWithPaddingUpToTwo()
    {
        Assert.True(WinogradPolicy.Supports(new Conv2dGeometry(2, 4, 6, 6, 4, 3, 3, 1, 1, 2, 0)));
        Assert.False(WinogradPolicy.Supports(new Conv2dGeometry(2, 4, 6, 6, 4, 3, 3, 2, 2, 1, 1)));
        Assert.False(WinogradPolicy.Supports(new Conv2dGeometry(2, 4, 6, 6, 4, 3, 3, 1, 1, 3, 3)));
        Assert.False(WinogradPolicy.Supports(new Conv2dGeometry(2, 4, 6, 6, 4, 5, 5, 1, 1, 1, 1)));
        Assert.False(WinogradPolicy.Supports(new Conv2dGeometry(2, 4, 6, 6, 4, 1, 3, 1, 1, 0, 1)));
    }

    /// <summary>In <see cref="WinogradMode.Auto"/>, forward and backward-data through F(4x4) from 8x8 outputs, and
    /// from 4x4 for up to 128 x 128 filters (the quickstart's narrow layers, where it was measured faster), not for
    /// ResNet-18's 512 x 512 on 4x4.</summary>
    [Fact]
    public void AutoChoosesF4x4ForNarrowLayersOnSmallImages()
    {
        using var _ = new ThreadCountScope(1);
        static Conv2dGeometry Layer(int channels, int size) => new(128, channels, size, size, channels, 3, 3, 1, 1, 1, 1);
        bool f4 = System.Runtime.Intrinsics.X86.Avx2.IsSupported;
        Assert.Equal(f4, WinogradPolicy.UseF4<float>(Layer(64, 7)));
        Assert.Equal(f4, WinogradPolicy.UseF4<float>(Layer(128, 4)));
        Assert.Equal(f4, WinogradPolicy.UseF4<float>(Layer(512, 8)));
        Assert.False(WinogradPolicy.UseF4<float>(Layer(512, 4)));
        Assert.False(WinogradPolicy.UseF4<float>(Layer(64, 3)));
        Assert.False(WinogradPolicy.UseF4<double>(Layer(64, 7)));
        // F(4x4)'s products without the GEMM for up to 32 input channels and whole passes of 16 output channels.
        bool fma = System.Runtime.Intrinsics.X86.Fma.IsSupported;
        Assert.Equal(fma, WinogradNarrowProducts.Applies(16, 16));
        Assert.Equal(fma, WinogradNarrowProducts.Applies(1, 64));
        Assert.False(WinogradNarrowProducts.Applies(64, 64));
        Assert.False(WinogradNarrowProducts.Applies(16, 17));
    }

    /// <summary>The weight gradient splits the batch over the threads only where each chunk holds enough tiles; a thinner
    /// split runs as one chunk (the shapes above cover both on two threads).</summary>
    [Fact]
    public void WeightGradientSplitsTheBatchOnlyIntoChunksOfEnoughTiles()
    {
        using var _ = new ThreadCountScope(2);
        Assert.Equal(2, FilterPartials.Chunks(4, 64));   // 2 images of 64 tiles a chunk
        Assert.Equal(2, FilterPartials.Chunks(64, 4));   // ResNet-18's 8x8 outputs through F(4x4): 128 tiles a chunk
        Assert.Equal(1, FilterPartials.Chunks(64, 1));   // its 4x4 outputs: 32 tiles a chunk
        Assert.Equal(1, FilterPartials.Chunks(3, 36));   // 1 image of 36 tiles a chunk
        Assert.Equal(1, FilterPartials.Chunks(1, 4096)); // one image
        using var one = new ThreadCountScope(1);
        Assert.Equal(1, FilterPartials.Chunks(64, 64));
    }

    private static void CheckAll<T>(Conv2dGeometry g, int threads, ulong seed, WinogradMode mode = WinogradMode.On) where T : unmanaged
    {
        using var _ = new ThreadCountScope(threads, winograd: mode);
        Assert.True(WinogradPolicy.Use<T>(g));
        bool f4 = WinogradPolicy.UseF4<T>(g);
        Assert.Equal(mode == WinogradMode.F4x4, f4);
        Assert.Equal(f4, WinogradPolicy.UseF4Gradient<T>(g));
        // Per-channel scale of the forward and backward-data terms, and the transforms' extra roundings.
        double perChannel = f4 ? 2304 : 64;
        int levels = f4 ? 32 : 16;
        var backend = CpuBackend.Instance;
        using var c = new ConvolutionCase<T>(g, seed);
        double[] x = c.XValues, w = c.WValues, dy = c.DyValues;
        double maxX = MaxAbs(x), maxW = MaxAbs(w), maxDy = MaxAbs(dy);
        // Output tiles of the weight gradient, and its per-tile scale.
        int side = f4 ? 4 : 2;
        int tiles = g.Batch * ((g.OutHeight + side - 1) / side) * ((g.OutWidth + side - 1) / side);
        double perTile = f4 ? 2845 : 36;

        backend.Conv2dForward(g, c.X, c.W, c.Y);
        Compare<T>("forward", g, ConvolutionReference.Forward(g, x, w).Value, c.Y, g.InChannels + levels, perChannel * g.InChannels * maxW * maxX);
        backend.Conv2dBackwardData(g, c.Dy, c.W, c.Dx);
        Compare<T>("backward-data", g, ConvolutionReference.BackwardData(g, dy, w).Value, c.Dx, g.OutChannels + levels, perChannel * g.OutChannels * maxW * maxDy);
        backend.Conv2dBackwardFilter(g, c.X, c.Dy, c.Dw);
        Compare<T>("backward-filter", g, ConvolutionReference.BackwardFilter(g, x, dy).Value, c.Dw, tiles + levels, perTile * tiles * maxDy * maxX);
    }

    private static double MaxAbs(double[] values) => values.Max(Math.Abs);

    /// <summary>|actual - expected| &lt;= 2 roundings u · scale for every element (see the class comment).</summary>
    private static void Compare<T>(string what, Conv2dGeometry g, double[] expected, Tensor actualTensor, int roundings, double scale) where T : unmanaged
    {
        double[] actual = TestData.ToDouble(actualTensor.ToArray<T>());
        Assert.Equal(expected.Length, actual.Length);
        double bound = 2.0 * roundings * TestData.Epsilon<T>() * scale;
        for (int i = 0; i < actual.Length; i++)
        {
            double error = Math.Abs(actual[i] - expected[i]);
            if (!(error <= bound))
                Assert.Fail($"{typeof(T).Name} winograd {what} {g} threads={CpuParallel.ThreadCount}: element {i} = {actual[i]}, " +
                    $"expected {expected[i]} (error {error:E2}, bound {bound:E2})");
        }
    }

    /// <summary>Forward and backward-data split output tiles over threads, each computed by the same
    /// operations whatever the split: bit-identical for 1 and 2 threads. The weight gradient is a fixed
    /// reduction for a given thread count: bit-identical run to run.</summary>
    [Theory]
    [MemberData(nameof(ShapeIndices))]
    public void ForwardAndBackwardDataAreBitIdenticalAcrossThreadCounts(int shape)
    {
        var g = Geometry(shape);
        var backend = CpuBackend.Instance;
        using var x = Tensor.FromArray<float>(TestData.Convert<float>(TestData.Uniform((int)g.InputShape.Numel, 61)), g.InputShape, backend);
        using var w = Tensor.FromArray<float>(TestData.Convert<float>(TestData.Uniform((int)g.WeightShape.Numel, 62)), g.WeightShape, backend);
        using var dy = Tensor.FromArray<float>(TestData.Convert<float>(TestData.Uniform((int)g.OutputShape.Numel, 63)), g.OutputShape, backend);
        using var y = Tensor.Empty(g.OutputShape, DType.Float32, backend);
        using var dx = Tensor.Empty(g.InputShape, DType.Float32, backend);
        using var dw = Tensor.Empty(g.WeightShape, DType.Float32, backend);
        (float[] Y, float[] Dx, float[] Dw) Run(int threads, WinogradMode mode)
        {
            using var _ = new ThreadCountScope(threads, winograd: mode);
            backend.Conv2dForward(g, x, w, y);
            backend.Conv2dBackwardData(g, dy, w, dx);
            backend.Conv2dBackwardFilter(g, x, dy, dw);
            return (y.ToArray<float>(), dx.ToArray<float>(), dw.ToArray<float>());
        }
        foreach (var mode in new[] { WinogradMode.On, WinogradMode.F4x4 })
        {
            var one = Run(1, mode);
            var two = Run(2, mode);
            Assert.Equal(one.Y, two.Y);
            Assert.Equal(one.Dx, two.Dx);
            Assert.Equal(one.Dw, Run(1, mode).Dw);
            Assert.Equal(two.Dw, Run(2, mode).Dw);
        }
    }

    /// <summary>Both F(2x2) layouts: 9x9 outputs are transformed a vector of channels at a time, 32x32 along tile
    /// rows; and F(4x4).</summary>
    [Theory]
    [InlineData(9, false)]
    [InlineData(32, false)]
    [InlineData(13, true)]
    public void SteadyStateWinogradConvolutionAllocatesNothing(int size, bool f4)
    {
        using var _ = new ThreadCountScope(2, winograd: f4 ? WinogradMode.F4x4 : WinogradMode.On);
        var g = new Conv2dGeometry(4, 16, size, size, 17, 3, 3, 1, 1, 1, 1);
        var backend = CpuBackend.Instance;
        using var x = Tensor.FromArray<float>(TestData.Convert<float>(TestData.Uniform((int)g.InputShape.Numel, 71)), g.InputShape, backend);
        using var w = Tensor.FromArray<float>(TestData.Convert<float>(TestData.Uniform((int)g.WeightShape.Numel, 72)), g.WeightShape, backend);
        using var y = Tensor.Empty(g.OutputShape, DType.Float32, backend);
        using var dx = Tensor.Empty(g.InputShape, DType.Float32, backend);
        using var dw = Tensor.Empty(g.WeightShape, DType.Float32, backend);
        long bytes = AllocationCheck.BytesAllocated(() =>
        {
            backend.Conv2dForward(g, x, w, y);
            backend.Conv2dBackwardData(g, y, w, dx);
            backend.Conv2dBackwardFilter(g, x, y, dw);
        });
        Assert.Equal(0, bytes);
    }
}
