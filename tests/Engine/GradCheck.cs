using Vicreg.Engine;
using Vicreg.Engine.Autograd;
using Vicreg.Engine.Backends.Cpu;

namespace Vicreg.Tests.Engine;

/// <summary>
/// Compares the tape's gradients with central finite differences in float64. The function's output is
/// reduced to a scalar through a fixed random projection (sum of y * w), so every output element and
/// every path of the backward matters and a wrong sign or a missing term cannot cancel out.
/// </summary>
public static class GradCheck
{
    public static Tensor RandomDouble(Shape shape, ref Rng rng, double low = -1, double high = 1, bool requiresGrad = true)
    {
        var t = Random(shape, ref rng, DType.Float64, low, high);
        t.RequiresGrad = requiresGrad;
        return t;
    }

    public static Tensor Random(Shape shape, ref Rng rng, DType dtype, double low = -1, double high = 1)
    {
        var values = new double[shape.Numel];
        for (int i = 0; i < values.Length; i++) values[i] = rng.Uniform(low, high);
        return dtype == DType.Float64
            ? Tensor.FromArray<double>(values, shape, CpuBackend.Instance)
            : Tensor.FromArray<float>(Array.ConvertAll(values, v => (float)v), shape, CpuBackend.Instance);
    }

    /// <summary>Checks d(sum(f(inputs) * w))/d(input) for every input that requires a gradient.</summary>
    public static void Check(Func<Tensor[], Tensor> f, Tensor[] inputs, double step = 1e-6, double tolerance = 1e-6, ulong seed = 99)
    {
        Tape.Clear(); // a failed test on this thread must not leave nodes behind for this one
        foreach (var t in inputs) t.Grad = null;
        Tensor projection;
        double analyticLoss;
        using (var scope = TensorScope.Begin())
        {
            var y = f(inputs);
            var rng = new Rng(seed);
            projection = scope.Keep(RandomDouble(y.Shape, ref rng, requiresGrad: false));
            var loss = Ops.SumAll(Ops.Mul(y, projection));
            analyticLoss = loss.Item();
            loss.Backward();
        }
        Assert.Equal(0, Tape.Count);
        Assert.True(double.IsFinite(analyticLoss), "loss is not finite");

        for (int k = 0; k < inputs.Length; k++)
        {
            var input = inputs[k];
            if (!input.RequiresGrad) continue;
            Assert.NotNull(input.Grad);
            var analytic = input.Grad!.ToArray<double>();
            var x = input.AsSpan<double>();
            for (int i = 0; i < x.Length; i++)
            {
                double saved = x[i];
                x[i] = saved + step;
                double plus = Evaluate(f, inputs, projection);
                x[i] = saved - step;
                double minus = Evaluate(f, inputs, projection);
                x[i] = saved;
                double numeric = (plus - minus) / (2 * step);
                double error = Math.Abs(numeric - analytic[i]);
                double scale = Math.Max(1, Math.Abs(numeric));
                Assert.True(error <= tolerance * scale,
                    $"input {k} {input.Shape} element {i}: analytic {analytic[i]:G10}, numeric {numeric:G10}");
            }
        }
        projection.Dispose();
    }

    private static double Evaluate(Func<Tensor[], Tensor> f, Tensor[] inputs, Tensor projection)
    {
        using var scope = TensorScope.Begin();
        using var _ = Tape.NoGrad();
        var y = f(inputs);
        return Ops.SumAll(Ops.Mul(y, projection)).Item();
    }
}
