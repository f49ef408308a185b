using Vicreg.Engine;
using Vicreg.Engine.Autograd;
using Vicreg.Engine.Backends.Cpu;
using Vicreg.Engine.Distributed;
using Vicreg.Engine.Nn;
using Vicreg.Engine.Optim;

namespace Vicreg.Tests.Engine.Distributed;

/// <summary>
/// Buckets sent during the backward (each as soon as the backward has completed its gradients) give the
/// same averaged gradients, bit for bit, as buckets sent after it, over several SGD steps on in-process
/// ranks; and some buckets really were sent while the backward was running.
/// </summary>
public class GradientAveragerTests
{
    private const int Ranks = 2, Steps = 3, Batch = 5, Features = 7;

    /// <summary>Counts the bucket all-reduces started while the tape still held the backward's nodes.</summary>
    private sealed class Watching(ICommunicator inner) : ICommunicator
    {
        public int StartedDuringBackward;
        public int Rank => inner.Rank;
        public int Size => inner.Size;
        public string Name => inner.Name;
        public void AllReduceSum(Tensor tensor) => inner.AllReduceSum(tensor);
        public PendingCollective StartAllReduceSum(Tensor tensor)
        {
            if (Tape.Count > 0) StartedDuringBackward++;
            return inner.StartAllReduceSum(tensor);
        }
        public void AllGather(Tensor local, Tensor gathered) => inner.AllGather(local, gathered);
        public void Broadcast(Tensor tensor, int root) => inner.Broadcast(tensor, root);
        public void Barrier() => inner.Barrier();
        public void Abort(int exitCode) => inner.Abort(exitCode);
        public void Dispose() => inner.Dispose();
    }

    /// <summary>Per step, every parameter's averaged gradient; and how many buckets were started during a backward.</summary>
    private static (List<double[][]> Grads, int Overlapped) Train(ICommunicator rank, bool overlap)
    {
        var rng = new Rng(8);
        // Both views go through `shared` (its parameters receive two additions per backward), only view A through `head`;
        // `unused` never gets a gradient (it contributes zeros).
        var shared = new Sequential(new Linear(Features, 11, true, ref rng, DType.Float64, CpuBackend.Instance), new Relu(),
            new Linear(11, 6, true, ref rng, DType.Float64, CpuBackend.Instance));
        var head = new Linear(6, 3, true, ref rng, DType.Float64, CpuBackend.Instance);
        var unused = new Linear(2, 2, false, ref rng, DType.Float64, CpuBackend.Instance);
        var named = shared.NamedParameters("shared.").Concat(head.NamedParameters("head.")).Concat(unused.NamedParameters("unused.")).ToList();
        var optimizer = new Sgd(named, momentum: 0.9);
        var watching = new Watching(rank);
        using var averager = new GradientAverager(named.Select(p => p.Tensor), watching, bucketElements: 40, firstBucketElements: 20, overlap: overlap);
        var data = new Rng((ulong)(100 + rank.Rank));
        var grads = new List<double[][]>();
        for (int step = 0; step < Steps; step++)
        {
            using (TensorScope.Begin())
            {
                var a = Tensor.FromArray<double>(Enumerable.Range(0, Batch * Features).Select(_ => data.Uniform(-1, 1)).ToArray(), new Shape(Batch, Features), CpuBackend.Instance);
                var b = Tensor.FromArray<double>(Enumerable.Range(0, Batch * Features).Select(_ => data.Uniform(-1, 1)).ToArray(), new Shape(Batch, Features), CpuBackend.Instance);
                var za = shared.Forward(a);
                var zb = shared.Forward(b);
                var loss = Ops.Add(Ops.SumAll(Ops.Mul(za, zb)), Ops.SumAll(Ops.Mul(head.Forward(za), head.Forward(za))));
                optimizer.ZeroGrad();
                loss.Backward();
                averager.Average();
                grads.Add(named.Select(p => p.Tensor.Grad!.ToArray<double>()).ToArray());
                optimizer.Step(0.05);
            }
        }
        return (grads, watching.StartedDuringBackward);
    }

    [Fact]
    public void Buckets_sent_during_the_backward_average_exactly_as_after_it()
    {
        var after = ThreadRanks.Run(Ranks, rank => Train(rank, overlap: false));
        var during = ThreadRanks.Run(Ranks, rank => Train(rank, overlap: true));
        for (int r = 0; r < Ranks; r++)
        {
            Assert.Equal(0, after[r].Overlapped);
            // The first step learns how often each gradient is added to; later steps send complete buckets early.
            Assert.True(during[r].Overlapped >= Steps - 1, $"rank {r}: {during[r].Overlapped} buckets were started during a backward");
            for (int s = 0; s < Steps; s++)
                for (int p = 0; p < after[r].Grads[s].Length; p++)
                    Assert.True(after[r].Grads[s][p].SequenceEqual(during[r].Grads[s][p]), $"rank {r}, step {s}, parameter {p}: the gradients differ");
        }
        Assert.True(during[0].Grads[^1][0].SequenceEqual(during[1].Grads[^1][0]), "the ranks hold the same average");
        Assert.True(during[0].Grads[^1][^1].All(v => v == 0), "the unused parameter's average is zeros");
    }
}
