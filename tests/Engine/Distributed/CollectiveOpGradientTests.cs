using Vicreg.Engine;
using Vicreg.Engine.Autograd;
using Vicreg.Engine.Backends.Cpu;
using Vicreg.Engine.Distributed;

namespace Vicreg.Tests.Engine.Distributed;

/// <summary>The all-gather and synchronised batch-norm ops on several in-process ranks: their backward
/// against finite differences of the summed objective, and their agreement with one process holding
/// every rank's rows.</summary>
public class CollectiveOpGradientTests
{
    private static Tensor RankInput(Shape shape, int rank, ulong salt)
    {
        var rng = new Rng(salt * 31 + (ulong)rank);
        return GradCheck.RandomDouble(shape, ref rng);
    }

    [Theory]
    [InlineData(2, 3, 5)]
    [InlineData(3, 1, 2)]
    public void AllGather_backward_sums_over_ranks_and_keeps_own_slice(int size, int n, int d)
    {
        ThreadRanks.Run(size, comm =>
        {
            var x = RankInput(new Shape(n, d), comm.Rank, 1);
            // Nonlinear in the gathered rows, so each rank's loss depends on every rank's input.
            DistributedGradCheck.Check(comm, t => { var g = Ops.AllGather(t[0], comm); return Ops.Mul(g, g); }, [x], []);
            return 0;
        });
    }

    [Fact]
    public void AllGather_places_ranks_in_order()
    {
        var gathered = ThreadRanks.Run(3, comm =>
        {
            using var x = Tensor.FromArray<double>([comm.Rank + 0.5, -comm.Rank], new Shape(1, 2), CpuBackend.Instance);
            using var g = Ops.AllGather(x, comm);
            return g.ToArray<double>();
        });
        foreach (var g in gathered) Assert.Equal([0.5, 0, 1.5, -1, 2.5, -2], g);
    }

    public static TheoryData<int, int[]> SyncShapes() => new()
    {
        { 2, [3, 4] },
        { 2, [2, 3, 3, 2] },
        { 3, [1, 5, 1, 3] },
    };

    [Theory]
    [MemberData(nameof(SyncShapes))]
    public void SyncBatchNorm_gradients(int size, int[] shape)
    {
        int c = shape[1];
        ThreadRanks.Run(size, comm =>
        {
            var x = RankInput(new Shape(shape), comm.Rank, 2);
            var rng = new Rng(7); // the same parameters on every rank
            var gamma = GradCheck.RandomDouble(new Shape(c), ref rng, 0.5, 1.5);
            var beta = GradCheck.RandomDouble(new Shape(c), ref rng);
            DistributedGradCheck.Check(comm, t => Ops.SyncBatchNorm(t[0], t[1], t[2], null, null, comm), [x], [gamma, beta]);
            return 0;
        });
    }

    [Theory]
    [MemberData(nameof(SyncShapes))]
    public void SyncBatchNorm_matches_one_process_over_all_rows(int size, int[] shape)
    {
        int n = shape[0], c = shape[1];
        var whole = new Shape([n * size, .. shape[1..]]);
        var rng = new Rng(3);
        using var all = GradCheck.RandomDouble(whole, ref rng, requiresGrad: false);
        using var dyAll = GradCheck.RandomDouble(whole, ref rng, requiresGrad: false);
        using var gamma = GradCheck.RandomDouble(new Shape(c), ref rng, 0.5, 1.5);
        using var beta = GradCheck.RandomDouble(new Shape(c), ref rng);
        using var referenceMean = Tensor.Zeros(new Shape(c), DType.Float64, CpuBackend.Instance);
        using var referenceVar = Tensor.Full(new Shape(c), 1, DType.Float64, CpuBackend.Instance);
        var reference = BatchNormWithGradients(all, dyAll, gamma, beta, referenceMean, referenceVar, null);
        long slice = all.Numel / size;

        var ranks = ThreadRanks.Run(size, comm =>
        {
            using var x = Slice(all, comm.Rank * slice, slice, new Shape(shape));
            using var dy = Slice(dyAll, comm.Rank * slice, slice, new Shape(shape));
            using var g = Clone(gamma);
            using var b = Clone(beta);
            using var mean = Tensor.Zeros(new Shape(c), DType.Float64, CpuBackend.Instance);
            using var variance = Tensor.Full(new Shape(c), 1, DType.Float64, CpuBackend.Instance);
            var r = BatchNormWithGradients(x, dy, g, b, mean, variance, comm);
            comm.AllReduceSum(g.Grad!);
            comm.AllReduceSum(b.Grad!);
            return r with { DGamma = g.Grad!.ToArray<double>(), DBeta = b.Grad!.ToArray<double>() };
        });
        for (int r = 0; r < size; r++)
        {
            AssertClose(reference.Y.AsSpan((int)(r * slice), (int)slice), ranks[r].Y);
            AssertClose(reference.Dx.AsSpan((int)(r * slice), (int)slice), ranks[r].Dx);
            AssertClose(reference.DGamma, ranks[r].DGamma);
            AssertClose(reference.DBeta, ranks[r].DBeta);
            AssertClose(reference.RunningMean, ranks[r].RunningMean);
            AssertClose(reference.RunningVar, ranks[r].RunningVar);
        }
    }

    private sealed record Outcome(double[] Y, double[] Dx, double[] DGamma, double[] DBeta, double[] RunningMean, double[] RunningVar);

    private static Outcome BatchNormWithGradients(Tensor input, Tensor dy, Tensor gamma, Tensor beta, Tensor mean, Tensor variance, ICommunicator? comm)
    {
        using var x = Clone(input);
        x.RequiresGrad = true;
        gamma.Grad = null;
        beta.Grad = null;
        double[] y;
        using (TensorScope.Begin())
        {
            var output = comm is null
                ? Ops.BatchNorm(x, gamma, beta, mean, variance, training: true)
                : Ops.SyncBatchNorm(x, gamma, beta, mean, variance, comm);
            y = output.ToArray<double>();
            Ops.SumAll(Ops.Mul(output, dy)).Backward();
        }
        return new Outcome(y, x.Grad!.ToArray<double>(), gamma.Grad!.ToArray<double>(), beta.Grad!.ToArray<double>(),
            mean.ToArray<double>(), variance.ToArray<double>());
    }

    private static Tensor Clone(Tensor t)
    {
        var c = Tensor.FromArray<double>(t.ToArray<double>(), t.Shape, CpuBackend.Instance);
        c.RequiresGrad = t.RequiresGrad;
        return c;
    }

    private static Tensor Slice(Tensor t, long start, long count, Shape shape) =>
        Tensor.FromArray<double>(t.ToArray<double>().AsSpan((int)start, (int)count), shape, CpuBackend.Instance);

    private static void AssertClose(ReadOnlySpan<double> expected, ReadOnlySpan<double> actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-12 * Math.Max(1, Math.Abs(expected[i])), $"element {i}: {expected[i]:G17} vs {actual[i]:G17}");
    }
}
