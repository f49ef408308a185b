using Vicreg.Engine;
using Vicreg.Engine.Autograd;
using Vicreg.Engine.Backends.Cpu;
using Vicreg.Engine.Distributed;
using Vicreg.Engine.Nn;
using Vicreg.Losses;
using Vicreg.Engine.Models;
using Vicreg.Tests.Engine;
using Vicreg.Tests.Engine.Distributed;
using Vicreg.Training;

namespace Vicreg.Tests.App.Training;

/// <summary>
/// World-size invariance of one VICReg (and one Barlow Twins) step in float64, on in-process ranks: a small ResNet + expander
/// whose ranks each hold part of the batch (synchronised batch norm, gathered loss, averaged gradients)
/// gets the gradients of the one-process step on the whole batch, to 1e-10.
/// </summary>
public class DataParallelGradientTests
{
    private const int Batch = 12, Channels = 3, Size = 8;

    private static VicregModel Model(bool barlowTwins)
    {
        var rng = new Rng(21);
        // No zero-init of the residual gammas: every parameter gets a non-trivial gradient.
        var backbone = Backbones.Create("resnet18", ResNetStems.Parse("cifar"), 0.0625, Channels, ref rng, zeroInitResidual: false, dtype: DType.Float64, backend: CpuBackend.Instance);
        var projector = Expander.Create(backbone.RepresentationSize, "16-16", ref rng, DType.Float64, CpuBackend.Instance, hiddenBias: !barlowTwins);
        return new VicregModel(backbone, projector);
    }

    private static double[] Views()
    {
        var rng = new Rng(4);
        return Enumerable.Range(0, 2 * Batch * Channels * Size * Size).Select(_ => rng.Uniform(-2, 2)).ToArray();
    }

    /// <summary>One training step's loss, parameter gradients and running statistics, on the rows [first, first + count) of each view.</summary>
    private static (double Loss, Dictionary<string, double[]> Grads, Dictionary<string, double[]> Buffers) Step(ICommunicator comm, int first, int count, bool barlowTwins)
    {
        var model = Model(barlowTwins);
        var parallel = new DataParallel(comm);
        parallel.Attach(model);
        var all = Views();
        int sample = Channels * Size * Size;
        var shape = new Shape(count, Channels, Size, Size);
        using var a = Tensor.FromArray<double>(all.AsSpan(first * sample, count * sample), shape, CpuBackend.Instance);
        using var b = Tensor.FromArray<double>(all.AsSpan((Batch + first) * sample, count * sample), shape, CpuBackend.Instance);
        double loss;
        using (TensorScope.Begin())
        {
            if (barlowTwins)
            {
                // A large lambda, so that the off-diagonal term weighs in the gradients compared.
                var (total, _) = new BarlowTwinsLoss(0.3).Forward(model.Forward(a), model.Forward(b), comm);
                loss = total.Item();
                total.Backward();
            }
            else
            {
                var output = new VicregLoss().Forward(model.Forward(a), model.Forward(b), comm);
                loss = output.ReadTerms().Weighted(25, 25, 1);
                output.Loss.Backward();
            }
        }
        parallel.AverageGradients();
        parallel.Dispose();
        Assert.Equal(0, Tape.Count);
        return (loss,
            model.NamedParameters().ToDictionary(p => p.Name, p => p.Tensor.Grad!.ToArray<double>()),
            model.NamedBuffers().Where(x => x.Tensor.DType == DType.Float64).ToDictionary(x => x.Name, x => x.Tensor.ToArray<double>()));
    }

    [Theory]
    [InlineData(2, false)]
    [InlineData(3, false)]
    [InlineData(2, true)]
    [InlineData(3, true)]
    public void Ranks_get_the_one_process_gradients(int ranks, bool barlowTwins)
    {
        var whole = Step(SingleProcessCommunicator.Instance, 0, Batch, barlowTwins);
        int share = Batch / ranks;
        var parts = ThreadRanks.Run(ranks, comm => Step(comm, comm.Rank * share, share, barlowTwins));
        foreach (var part in parts)
        {
            Assert.True(Math.Abs(whole.Loss - part.Loss) <= 1e-12 * Math.Abs(whole.Loss), $"loss {whole.Loss:R} vs {part.Loss:R}");
            foreach (var (name, expected) in whole.Grads.Concat(whole.Buffers))
            {
                var actual = part.Grads.TryGetValue(name, out var g) ? g : part.Buffers[name];
                double scale = Math.Max(1e-3, expected.Max(Math.Abs));
                for (int i = 0; i < expected.Length; i++)
                    Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-10 * scale,
                        $"{name}[{i}]: one process {expected[i]:G17}, {ranks} ranks {actual[i]:G17}");
            }
        }
        Assert.True(whole.Grads.Values.All(g => g.Any(v => v != 0)), "a parameter got no gradient: the test would not see it");
    }
}
