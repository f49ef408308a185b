using Vicreg.Engine;
using Vicreg.Engine.Autograd;
using Vicreg.Engine.Backends.Cpu;
using Vicreg.Engine.Nn;

namespace Vicreg.Tests.Engine;

/// <summary>The fused batch norm + ReLU (<see cref="Ops.BatchNormRelu"/>, <see cref="BatchNorm.ForwardRelu"/> and the
/// fusion inside <see cref="Sequential"/>): its gradients against finite differences in float64, and every value,
/// gradient and running statistic equal to ReLU of the unfused batch norm.</summary>
public class BatchNormReluTests
{
    public static TheoryData<int[], bool> Shapes() => new()
    {
        { [5, 3], true }, { [2, 1], false }, { [3, 2, 3, 2], true }, { [1, 2, 3, 3], true }, { [2, 3, 1, 1], false }, { [3, 5, 7, 7], true },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void GradientsMatchFiniteDifferences(int[] shape, bool affine)
    {
        var rng = new Rng(71);
        var x = GradCheck.RandomDouble(new Shape(shape), ref rng);
        int c = shape[1];
        var gamma = GradCheck.RandomDouble(new Shape(c), ref rng, 0.5, 1.5);
        var beta = GradCheck.RandomDouble(new Shape(c), ref rng);
        Tensor[] inputs = affine ? [x, gamma, beta] : [x];
        GradCheck.Check(t => Ops.BatchNormRelu(t[0], affine ? t[1] : null, affine ? t[2] : null, null, null, training: true), inputs);
    }

    public static TheoryData<int[], int> EqualityCases() => new()
    {
        // N 1 and odd, C 1, odd and prime, planes 1x1, 7x7 and 13x13, and the (N, C) layout of the expander.
        { [1, 3, 7, 7], 1 }, { [3, 1, 13, 13], 1 }, { [5, 7, 1, 1], 2 }, { [2, 13, 13, 13], 2 }, { [7, 5], 1 }, { [33, 67], 2 }, { [9, 11, 7, 7], 2 },
    };

    [Theory]
    [MemberData(nameof(EqualityCases))]
    public void ValuesGradientsAndRunningStatisticsEqualReluOfBatchNorm(int[] dims, int threads)
    {
        int saved = CpuParallel.ThreadCount;
        CpuParallel.ThreadCount = threads;
        try
        {
            foreach (var dtype in new[] { DType.Float32, DType.Float64 })
            {
                var unfused = TrainingStep(dims, dtype, (x, g, b, rm, rv) => Ops.Relu(Ops.BatchNorm(x, g, b, rm, rv, training: true)));
                var fused = TrainingStep(dims, dtype, (x, g, b, rm, rv) => Ops.BatchNormRelu(x, g, b, rm, rv, training: true));
                string[] names = ["y", "running mean", "running var", "dx", "dgamma", "dbeta"];
                for (int i = 0; i < names.Length; i++)
                    Assert.True(unfused[i].AsSpan().SequenceEqual(fused[i]), $"{names[i]} differs: {dtype.Name()} [{string.Join(", ", dims)}]");
            }
        }
        finally
        {
            CpuParallel.ThreadCount = saved;
        }
    }

    /// <summary>One forward and backward of <paramref name="f"/> on fixed random data: the output, the running statistics
    /// after it, and the gradients of x, gamma and beta, as doubles.</summary>
    private static double[][] TrainingStep(int[] dims, DType dtype, Func<Tensor, Tensor, Tensor, Tensor, Tensor, Tensor> f)
    {
        using var scope = TensorScope.Begin();
        var rng = new Rng(73);
        var shape = new Shape(dims);
        int c = dims[1];
        var x = GradCheck.Random(shape, ref rng, dtype, 2, 5);
        var gamma = GradCheck.Random(new Shape(c), ref rng, dtype);
        var beta = GradCheck.Random(new Shape(c), ref rng, dtype);
        var runningMean = GradCheck.Random(new Shape(c), ref rng, dtype);
        var runningVar = GradCheck.Random(new Shape(c), ref rng, dtype, 0.5, 2);
        var w = GradCheck.Random(shape, ref rng, dtype);
        foreach (var t in (Tensor[])[x, gamma, beta]) t.RequiresGrad = true;
        var y = f(x, gamma, beta, runningMean, runningVar);
        Ops.SumAll(Ops.Mul(y, w)).Backward();
        return [Values(y), Values(runningMean), Values(runningVar), Values(x.Grad!), Values(gamma.Grad!), Values(beta.Grad!)];
    }

    private static double[] Values(Tensor t) => t.DType switch
    {
        DType.Float64 => t.ToArray<double>(),
        DType.Float32 => Array.ConvertAll(t.ToArray<float>(), v => (double)v),
        _ => Array.ConvertAll(t.ToArray<int>(), v => (double)v),
    };

    [Fact]
    public void EvaluationIsReluOfTheInferenceBatchNorm()
    {
        using var scope = TensorScope.Begin();
        var rng = new Rng(79);
        var x = GradCheck.Random(new Shape(3, 4, 5, 5), ref rng, DType.Float32);
        var gamma = GradCheck.Random(new Shape(4), ref rng, DType.Float32);
        var beta = GradCheck.Random(new Shape(4), ref rng, DType.Float32);
        var mean = GradCheck.Random(new Shape(4), ref rng, DType.Float32);
        var variance = GradCheck.Random(new Shape(4), ref rng, DType.Float32, 0.5, 2);
        var expected = Ops.Relu(Ops.BatchNorm(x, gamma, beta, mean, variance, training: false)).ToArray<float>();
        Assert.Equal(expected, Ops.BatchNormRelu(x, gamma, beta, mean, variance, training: false).ToArray<float>());
        Assert.Contains(expected, v => v == 0);
        Assert.Contains(expected, v => v > 0);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void ForwardReluEqualsReluOfForwardAndRecordsOneNode(bool training)
    {
        using var scope = TensorScope.Begin();
        var rng = new Rng(83);
        var x = GradCheck.Random(new Shape(4, 3, 5, 5), ref rng, DType.Float32, 1, 3);
        x.RequiresGrad = true;
        var (fusedNorm, plainNorm) = (Norm(ref rng, 3), Norm(ref rng, 3));
        CopyState(fusedNorm, plainNorm);
        if (!training) { fusedNorm.Eval(); plainNorm.Eval(); }

        Tape.Clear();
        var fused = fusedNorm.ForwardRelu(x);
        int fusedNodes = Tape.Count;
        var plain = Ops.Relu(plainNorm.Forward(x));
        int plainNodes = Tape.Count - fusedNodes;
        Tape.Clear();
        // Training records one node instead of batch norm's and ReLU's; evaluation runs the two ops as they are.
        Assert.Equal(training ? 2 : plainNodes, plainNodes);
        Assert.Equal(training ? 1 : plainNodes, fusedNodes);
        Assert.Equal(plain.ToArray<float>(), fused.ToArray<float>());
        foreach (var ((name, a), (_, b)) in fusedNorm.StateDict().Zip(plainNorm.StateDict()))
            Assert.True(Values(a).AsSpan().SequenceEqual(Values(b)), $"{name} differs");
    }

    [Fact]
    public void SequentialRunsABatchNormFollowedByAReluAsOneOp()
    {
        using var scope = TensorScope.Begin();
        var rng = new Rng(89);
        var x = GradCheck.Random(new Shape(6, 5), ref rng, DType.Float32, 1, 3);
        x.RequiresGrad = true;
        var (fusedNorm, plainNorm) = (Norm(ref rng, 5), Norm(ref rng, 5));
        CopyState(fusedNorm, plainNorm);

        Tape.Clear();
        var fused = new Sequential(fusedNorm, new Relu()).Forward(x);
        Assert.Equal(1, Tape.Count);
        var plain = Ops.Relu(plainNorm.Forward(x));
        Tape.Clear();
        Assert.Equal(plain.ToArray<float>(), fused.ToArray<float>());
        // A ReLU before the batch norm is not the pattern: two ops.
        new Sequential(new Relu(), Norm(ref rng, 5)).Forward(x);
        Assert.Equal(2, Tape.Count);
        Tape.Clear();
    }

    private static BatchNorm Norm(ref Rng rng, int channels)
    {
        var norm = new BatchNorm(channels);
        foreach (var t in (Tensor[])[norm.Weight!, norm.Bias!, norm.RunningMean])
            t.Backend.Copy(GradCheck.Random(t.Shape, ref rng, DType.Float32), 0, t, 0, t.Numel);
        return norm;
    }

    private static void CopyState(Module from, Module to)
    {
        foreach (var ((_, source), (_, target)) in from.StateDict().Zip(to.StateDict())) target.Backend.Copy(source, 0, target, 0, source.Numel);
    }
}
