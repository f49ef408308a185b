using Vicreg.Engine;
using Vicreg.Engine.Autograd;
using Vicreg.Engine.Distributed;

namespace Vicreg.Tests.Engine.Distributed;

/// <summary>
/// <see cref="GradCheck"/> across ranks, called by every rank in lockstep. The objective is the sum over
/// ranks of each rank's sum(f(inputs) · w_rank), as data-parallel training sums the ranks' losses. Each
/// rank's <paramref name="local"/> inputs are its own (its gradient must be the derivative of the whole
/// objective); <paramref name="shared"/> inputs are replicated parameters, whose derivative is the sum of
/// the ranks' gradients. Finite differences perturb one rank's element (or a shared element on every
/// rank) and evaluate every rank's loss.
/// </summary>
public static class DistributedGradCheck
{
    public static void Check(ICommunicator comm, Func<Tensor[], Tensor> f, Tensor[] local, Tensor[] shared, double step = 1e-6, double tolerance = 1e-6)
    {
        Tensor[] inputs = [.. local, .. shared];
        Tape.Clear();
        foreach (var t in inputs) t.Grad = null;
        Tensor projection;
        using (var scope = TensorScope.Begin())
        {
            var y = f(inputs);
            var rng = new Rng(1000 + (ulong)comm.Rank);
            projection = scope.Keep(GradCheck.RandomDouble(y.Shape, ref rng, requiresGrad: false));
            Ops.SumAll(Ops.Mul(y, projection)).Backward();
        }
        Assert.Equal(0, Tape.Count);
        foreach (var s in shared) comm.AllReduceSum(s.Grad!);

        for (int k = 0; k < inputs.Length; k++)
        {
            bool isShared = k >= local.Length;
            var analytic = inputs[k].Grad!.ToArray<double>();
            var x = inputs[k].AsSpan<double>();
            for (int owner = 0; owner < (isShared ? 1 : comm.Size); owner++)
                for (int i = 0; i < x.Length; i++)
                {
                    bool mine = isShared || owner == comm.Rank;
                    double saved = x[i];
                    if (mine) x[i] = saved + step;
                    double plus = Objective(comm, f, inputs, projection);
                    if (mine) x[i] = saved - step;
                    double minus = Objective(comm, f, inputs, projection);
                    x[i] = saved;
                    if (!mine) continue;
                    double numeric = (plus - minus) / (2 * step);
                    Assert.True(Math.Abs(numeric - analytic[i]) <= tolerance * Math.Max(1, Math.Abs(numeric)),
                        $"rank {comm.Rank} input {k} element {i}: analytic {analytic[i]:G10}, numeric {numeric:G10}");
                }
        }
        projection.Dispose();
    }

    private static double Objective(ICommunicator comm, Func<Tensor[], Tensor> f, Tensor[] inputs, Tensor projection)
    {
        using var scope = TensorScope.Begin();
        using var _ = Tape.NoGrad();
        var loss = Ops.SumAll(Ops.Mul(f(inputs), projection));
        comm.AllReduceSum(loss);
        return loss.Item();
    }
}
