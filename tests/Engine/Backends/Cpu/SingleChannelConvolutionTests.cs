using Vicreg.Engine.Backends.Cpu.Convolution;
using Vicreg.Engine.Backends.Cpu;
using Vicreg.Engine;

namespace Vicreg.Tests.Engine.Backends.Cpu;

/// <summary>
/// The direct single-input-channel 3x3 kernel (<see cref="SingleChannelConvolution"/>, the grayscale stem's
/// forward and weight gradient) against the float64 direct loops, at awkward sizes: rows of exactly one vector,
/// rows that end in an overlapping vector (a lane, most lanes), prime widths and heights, one output row,
/// padding 0, 1 and 2, batch 1 and odd batches, odd and prime output channel counts, one and two threads.
/// Each element's error is bounded by its terms' magnitudes (<see cref="TestData.Bound{T}"/>), as for im2col:
/// the nine products of a forward output are summed in one chain, a weight gradient's in eight lanes then
/// across them.
/// </summary>
[Collection(ThreadCountCollection.Name)]
public sealed class SingleChannelConvolutionTests
{
    /// <summary>(batch, H, W, K, pad).</summary>
    private static readonly (int N, int H, int W, int K, int Pad)[] Shapes =
    [
        (1, 6, 8, 1, 1),    // 6x8: one whole vector a row
        (3, 5, 11, 3, 0),   // 3x9: a last vector overlapping by seven lanes
        (1, 28, 28, 16, 1), // the quickstart's stem: 28 = 3 vectors and an overlapping one
        (2, 7, 13, 17, 2),  // 9x15 at padding 2
        (5, 1, 8, 5, 1),    // a single output row
        (3, 13, 17, 7, 1),  // primes: 13x17, 7 channels
        (7, 3, 23, 2, 0),   // one row of 21 outputs
    ];

    private static Conv2dGeometry Geometry(int shape)
    {
        var s = Shapes[shape];
        return new Conv2dGeometry(s.N, 1, s.H, s.W, s.K, 3, 3, 1, 1, s.Pad, s.Pad);
    }

    public static TheoryData<int, int> Cases() => KernelTestSupport.CasesOnOneAndTwoThreads(Shapes.Length);

    [Theory]
    [MemberData(nameof(Cases))]
    public void ForwardAndWeightGradientMatchDirectLoops(int shape, int threads)
    {
        var g = Geometry(shape);
        using var _ = new ThreadCountScope(threads);
        Assert.True(SingleChannelConvolution.Use<float>(g));
        var backend = CpuBackend.Instance;
        using var c = new ConvolutionCase<float>(g, 4000 + (ulong)shape * 10);
        backend.Conv2dForward(g, c.X, c.W, c.Y);
        Compare("forward", g, ConvolutionReference.Forward(g, c.XValues, c.WValues), c.Y);
        backend.Conv2dBackwardFilter(g, c.X, c.Dy, c.Dw);
        Compare("backward-filter", g, ConvolutionReference.BackwardFilter(g, c.XValues, c.DyValues), c.Dw);
    }

    [Fact]
    public void AppliesOnlyToOneInputChannelThreeByThreeStrideOneInFloatWithRowsOfAVector()
    {
        var stem = new Conv2dGeometry(4, 1, 28, 28, 16, 3, 3, 1, 1, 1, 1);
        using (new ThreadCountScope(1))
        {
            Assert.Equal(System.Runtime.Intrinsics.X86.Avx2.IsSupported, SingleChannelConvolution.Use<float>(stem));
            Assert.False(SingleChannelConvolution.Use<double>(stem));
            Assert.False(SingleChannelConvolution.Use<float>(stem with { InChannels = 3 }));
            Assert.False(SingleChannelConvolution.Use<float>(stem with { StrideHeight = 2, StrideWidth = 2 }));
            Assert.False(SingleChannelConvolution.Use<float>(stem with { KernelHeight = 5, KernelWidth = 5 }));
            Assert.False(SingleChannelConvolution.Use<float>(stem with { InWidth = 7 })); // 7 outputs a row
        }
        using (new ThreadCountScope(1, winograd: WinogradMode.Off)) Assert.False(SingleChannelConvolution.Use<float>(stem));
    }

    /// <summary>Forward: each image on one thread, bit-identical for 1 and 2 threads. Weight gradient: a fixed
    /// reduction for a given thread count, bit-identical run to run.</summary>
    [Fact]
    public void ForwardIsBitIdenticalAcrossThreadCountsAndWeightGradientRunToRun()
    {
        var g = Geometry(5);
        var backend = CpuBackend.Instance;
        using var c = new ConvolutionCase<float>(g, 4100);
        (float[] Y, float[] Dw) Run(int threads)
        {
            using var _ = new ThreadCountScope(threads);
            backend.Conv2dForward(g, c.X, c.W, c.Y);
            backend.Conv2dBackwardFilter(g, c.X, c.Dy, c.Dw);
            return (c.Y.ToArray<float>(), c.Dw.ToArray<float>());
        }
        var one = Run(1);
        var two = Run(2);
        Assert.Equal(one.Y, two.Y);
        Assert.Equal(one.Dw, Run(1).Dw);
        Assert.Equal(two.Dw, Run(2).Dw);
    }

    [Fact]
    public void SteadyStateAllocatesNothing()
    {
        using var _ = new ThreadCountScope(2);
        var g = Geometry(2);
        var backend = CpuBackend.Instance;
        using var c = new ConvolutionCase<float>(g, 4200);
        long bytes = AllocationCheck.BytesAllocated(() =>
        {
            backend.Conv2dForward(g, c.X, c.W, c.Y);
            backend.Conv2dBackwardFilter(g, c.X, c.Dy, c.Dw);
        });
        Assert.Equal(0, bytes);
    }

    private static void Compare(string what, Conv2dGeometry g, ConvolutionReference.Result expected, Tensor actualTensor)
    {
        double[] actual = TestData.ToDouble(actualTensor.ToArray<float>());
        Assert.Equal(expected.Value.Length, actual.Length);
        for (int i = 0; i < actual.Length; i++)
        {
            double error = Math.Abs(actual[i] - expected.Value[i]);
            double bound = TestData.Bound<float>(expected.Terms, expected.Magnitude[i]);
            if (!(error <= bound))
                Assert.Fail($"single-channel {what} {g} threads={CpuParallel.ThreadCount}: element {i} = {actual[i]}, " +
                    $"expected {expected.Value[i]} (error {error:E2}, bound {bound:E2})");
        }
    }
}
