using Vicreg.Engine.Backends.Cpu.Convolution;
using Vicreg.Engine.Backends.Cpu;
using Vicreg.Engine;

namespace Vicreg.Tests.Engine.Backends.Cpu;

[Collection(ThreadCountCollection.Name)]
public sealed class ConvolutionTests
{
    /// <summary>Kernels 1, 3, 5, 7 (and a non-square one); strides 1, 2; pads 0, 1, 3; odd sizes; batch 1
    /// and 3; channels 1, 3, 5, 16; plus batches whose small outputs make the weight gradient group images
    /// into tiles, 1x1 convolutions with and without the no-lowering path, and outputs large enough to be
    /// lowered in bands of rows.</summary>
    public static readonly Conv2dGeometry[] Geometries =
    [
        new(1, 1, 5, 5, 1, 1, 1, 1, 1, 0, 0),
        new(3, 16, 7, 7, 16, 1, 1, 1, 1, 0, 0),
        new(3, 16, 9, 9, 5, 1, 1, 2, 2, 0, 0),
        new(3, 3, 7, 7, 5, 3, 3, 1, 1, 1, 1),
        new(3, 5, 9, 11, 16, 3, 3, 2, 2, 1, 1),
        new(1, 16, 11, 9, 3, 5, 5, 1, 1, 0, 0),
        new(3, 1, 9, 7, 3, 5, 5, 2, 2, 1, 1),
        new(3, 3, 11, 11, 5, 7, 7, 2, 2, 3, 3),
        new(1, 5, 5, 5, 16, 7, 7, 1, 1, 3, 3),
        new(1, 3, 7, 5, 5, 3, 1, 1, 2, 1, 0),
        new(3, 3, 5, 5, 4, 3, 3, 1, 1, 3, 3),
        new(1, 1, 1, 1, 3, 1, 1, 1, 1, 0, 0),
        new(35, 3, 4, 4, 5, 3, 3, 1, 1, 1, 1),
        new(20, 5, 3, 3, 4, 1, 1, 1, 1, 0, 0),
        new(3, 13, 5, 7, 7, 3, 3, 1, 1, 0, 0),
        // Outputs over 256 pixels are lowered a band of output rows at a time (Im2Col.BlockPixels).
        new(3, 3, 37, 37, 5, 3, 3, 1, 1, 1, 1),
        new(2, 1, 28, 28, 16, 3, 3, 1, 1, 1, 1), // the quickstart's stem: 4 bands of 7 rows
        new(1, 4, 45, 45, 3, 5, 5, 2, 2, 2, 2),
        // Stride 2 over rows long enough for the vectorized stride-2 lowering and raising (16 pixels into 8
        // columns): a whole vector, an overlapping last one, a scalar tail, and an exact fit at 1x1.
        new(3, 5, 21, 35, 7, 3, 3, 2, 2, 1, 1),
        new(2, 3, 7, 32, 5, 1, 1, 2, 2, 0, 0),
        new(1, 2, 5, 53, 3, 3, 3, 2, 2, 0, 0),
    ];

    public static TheoryData<int, int> Cases() => KernelTestSupport.CasesOnOneAndTwoThreads(Geometries.Length);

    [Theory]
    [MemberData(nameof(Cases))]
    public void Float32MatchesDirectLoops(int geometry, int threads) => CheckAll<float>(Geometries[geometry], threads, (ulong)geometry * 10);

    [Theory]
    [MemberData(nameof(Cases))]
    public void Float64MatchesDirectLoops(int geometry, int threads) => CheckAll<double>(Geometries[geometry], threads, (ulong)geometry * 10 + 5);

    private static void CheckAll<T>(Conv2dGeometry g, int threads, ulong seed) where T : unmanaged
    {
        // The im2col path, whatever the dispatch would pick (WinogradConvolutionTests covers the other).
        using var _ = new ThreadCountScope(threads, winograd: WinogradMode.Off);
        var backend = CpuBackend.Instance;
        using var c = new ConvolutionCase<T>(g, seed);
        backend.Conv2dForward(g, c.X, c.W, c.Y);
        Compare<T>("forward", g, ConvolutionReference.Forward(g, c.XValues, c.WValues), c.Y);
        backend.Conv2dBackwardData(g, c.Dy, c.W, c.Dx);
        Compare<T>("backward-data", g, ConvolutionReference.BackwardData(g, c.DyValues, c.WValues), c.Dx);
        backend.Conv2dBackwardFilter(g, c.X, c.Dy, c.Dw);
        Compare<T>("backward-filter", g, ConvolutionReference.BackwardFilter(g, c.XValues, c.DyValues), c.Dw);
    }

    private static void Compare<T>(string what, Conv2dGeometry g, ConvolutionReference.Result expected, Tensor actualTensor) where T : unmanaged
    {
        double[] actual = TestData.ToDouble(actualTensor.ToArray<T>());
        Assert.Equal(expected.Value.Length, actual.Length);
        for (int i = 0; i < actual.Length; i++)
        {
            double error = Math.Abs(actual[i] - expected.Value[i]);
            double bound = TestData.Bound<T>(expected.Terms, expected.Magnitude[i]);
            if (!(error <= bound))
                Assert.Fail($"{typeof(T).Name} {what} {g} threads={CpuParallel.ThreadCount}: element {i} = {actual[i]}, " +
                    $"expected {expected.Value[i]} (error {error:E2}, bound {bound:E2})");
        }
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(28, 28)]
    [InlineData(37, 37)]
    [InlineData(16, 16)]
    [InlineData(17, 300)]
    [InlineData(112, 112)]
    [InlineData(13, 19)]
    [InlineData(256, 1)]
    public void RowBandsCoverEveryRowOnceInFewEvenBandsWithinTheBlock(int outHeight, int outWidth)
    {
        var g = new Conv2dGeometry(1, 1, outHeight, outWidth, 1, 1, 1, 1, 1, 0, 0);
        var bands = Im2Col.Bands(g);
        int most = Math.Max(1, Im2Col.BlockPixels / outWidth);
        Assert.Equal((outHeight + most - 1) / most, bands.Count); // no more bands than the block size needs
        Assert.Equal(0, bands.Start(0));
        Assert.Equal(outHeight, bands.Start(bands.Count));
        var sizes = Enumerable.Range(0, bands.Count).Select(b => bands.Start(b + 1) - bands.Start(b)).ToArray();
        Assert.True(sizes.Max() - sizes.Min() <= 1, $"uneven bands: {string.Join(",", sizes)}");
        Assert.Equal(sizes.Max(), bands.MostRows);
        Assert.True(sizes.Max() <= most, $"a band of {sizes.Max()} rows exceeds {most}");
    }

    /// <summary>The lowering plan: a pointwise convolution of one image needs no column matrix; a tile of images, or a
    /// small image, is lowered whole; a single large image goes band by band, its column matrix one band high.</summary>
    [Fact]
    public void LoweringPlanSizesTheColumnMatrixForWholeUnitsOrOneBand()
    {
        var pointwise = new Conv2dGeometry(4, 5, 28, 28, 7, 1, 1, 1, 1, 0, 0);
        Assert.Equal(0, Im2Col.Plan(pointwise, 1).ColumnElements);
        Assert.False(Im2Col.Plan(pointwise, 1).Banded);
        Assert.Equal(5L * 28 * 28 * 3, Im2Col.Plan(pointwise, 3).ColumnElements);

        var large = new Conv2dGeometry(4, 5, 28, 28, 7, 3, 3, 1, 1, 1, 1); // 28 rows of 28: 4 bands of 7
        var plan = Im2Col.Plan(large, 1);
        Assert.True(plan.Banded);
        Assert.Equal(4, plan.Bands.Count);
        Assert.Equal(45L * 7 * 28, plan.ColumnElements);
        Assert.False(Im2Col.Plan(large, 2).Banded); // a tile of images is lowered whole
        Assert.Equal(45L * 28 * 28 * 2, Im2Col.Plan(large, 2).ColumnElements);

        var small = new Conv2dGeometry(4, 5, 9, 11, 7, 3, 3, 2, 2, 1, 1); // 5x6 outputs: one band
        Assert.False(Im2Col.Plan(small, 1).Banded);
        Assert.Equal(45L * 5 * 6, Im2Col.Plan(small, 1).ColumnElements);
    }

    [Fact]
    public void WeightGradientIsBitIdenticalRunToRunAndForwardAcrossThreadCounts()
    {
        var g = new Conv2dGeometry(9, 7, 6, 6, 11, 3, 3, 1, 1, 1, 1);
        var backend = CpuBackend.Instance;
        using var x = Tensor.FromArray<float>(TestData.Convert<float>(TestData.Uniform((int)g.InputShape.Numel, 41)), g.InputShape, backend);
        using var w = Tensor.FromArray<float>(TestData.Convert<float>(TestData.Uniform((int)g.WeightShape.Numel, 42)), g.WeightShape, backend);
        using var dy = Tensor.FromArray<float>(TestData.Convert<float>(TestData.Uniform((int)g.OutputShape.Numel, 43)), g.OutputShape, backend);
        using var dw = Tensor.Empty(g.WeightShape, DType.Float32, backend);
        using var y = Tensor.Empty(g.OutputShape, DType.Float32, backend);
        float[] Filter(int threads)
        {
            using var _ = new ThreadCountScope(threads);
            backend.Conv2dBackwardFilter(g, x, dy, dw);
            return dw.ToArray<float>();
        }
        float[] Forward(int threads)
        {
            using var _ = new ThreadCountScope(threads);
            backend.Conv2dForward(g, x, w, y);
            return y.ToArray<float>();
        }
        Assert.Equal(Filter(2), Filter(2));
        Assert.Equal(Filter(1), Filter(1));
        // Forward and backward-data run each image's GEMM whole on one thread: no cross-thread reduction.
        Assert.Equal(Forward(1), Forward(2));
    }

    [Fact]
    public void SteadyStateConvolutionAllocatesNothing()
    {
        using var _ = new ThreadCountScope(2);
        var g = new Conv2dGeometry(4, 8, 10, 10, 12, 3, 3, 2, 2, 1, 1);
        var backend = CpuBackend.Instance;
        using var x = Tensor.FromArray<float>(TestData.Convert<float>(TestData.Uniform((int)g.InputShape.Numel, 51)), g.InputShape, backend);
        using var w = Tensor.FromArray<float>(TestData.Convert<float>(TestData.Uniform((int)g.WeightShape.Numel, 52)), g.WeightShape, backend);
        using var y = Tensor.Empty(g.OutputShape, DType.Float32, backend);
        using var dx = Tensor.Empty(g.InputShape, DType.Float32, backend);
        using var dw = Tensor.Empty(g.WeightShape, DType.Float32, backend);
        void Step()
        {
            backend.Conv2dForward(g, x, w, y);
            backend.Conv2dBackwardData(g, y, w, dx);
            backend.Conv2dBackwardFilter(g, x, y, dw);
        }
        Step();
        Step();
        long before = GC.GetAllocatedBytesForCurrentThread();
        Step();
        Assert.Equal(before, GC.GetAllocatedBytesForCurrentThread());
    }
}
