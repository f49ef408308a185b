using System.Globalization;
using Vicreg.Engine;
using Vicreg.Engine.Autograd;
using Vicreg.Tests.Engine.IO;

namespace Vicreg.Tests.Engine;

/// <summary>GELU (tanh form), a composite op: its backward, which comes from its parts, against finite
/// differences in float64, its values and gradient against PyTorch's F.gelu(x, approximate="tanh"), and its
/// opt-in fused kernels against the composite.</summary>
public class GeluTests
{
    public GeluTests() => Tape.Clear();

    [Theory]
    [InlineData(new[] { 1 })]
    [InlineData(new[] { 7 })]
    [InlineData(new[] { 3, 13 })]
    public void BackwardFromThePartsMatchesFiniteDifferences(int[] shape)
    {
        var rng = new Rng(60);
        var x = GradCheck.RandomDouble(new Shape(shape), ref rng, -4, 4);
        GradCheck.Check(t => Ops.Gelu(t[0]), [x]);
    }

    [SkippableFact]
    [Trait("Reference", "PyTorch")]
    public void MatchesPytorchValuesAndGradient()
    {
        PythonReference.SkipUnlessTorch();
        var rng = new Rng(61);
        const int n = 29;
        var values = new double[n];
        var weights = new double[n];
        for (int i = 0; i < n; i++) (values[i], weights[i]) = (rng.Uniform(-6, 6), rng.Uniform(-1, 1));
        string List(double[] v) => string.Join(",", v.Select(d => d.ToString("R", CultureInfo.InvariantCulture)));
        var output = PythonReference.Run(["-c", $"""
            import torch
            x = torch.tensor([{List(values)}], dtype=torch.float64, requires_grad=True)
            y = torch.nn.functional.gelu(x, approximate="tanh")
            (y * torch.tensor([{List(weights)}], dtype=torch.float64)).sum().backward()
            for a, b in zip(y.tolist(), x.grad.tolist()): print(repr(a), repr(b))
            """], throwOnError: true).StandardOutput;
        var expected = output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split(' ').Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToArray()).ToArray();
        Assert.Equal(n, expected.Length);

        var x = Tensor.FromArray<double>(values, new Shape(n));
        x.RequiresGrad = true;
        using (TensorScope.Begin())
        {
            var y = Ops.Gelu(x);
            var got = y.ToArray<double>();
            Ops.SumAll(Ops.Mul(y, Tensor.FromArray<double>(weights, new Shape(n)))).Backward();
            var grad = x.Grad!.ToArray<double>();
            for (int i = 0; i < n; i++)
            {
                Assert.True(Math.Abs(got[i] - expected[i][0]) <= 1e-12 * Math.Max(1, Math.Abs(expected[i][0])), $"gelu({values[i]:R}) = {got[i]:R}, PyTorch {expected[i][0]:R}");
                Assert.True(Math.Abs(grad[i] - expected[i][1]) <= 1e-12 * Math.Max(1, Math.Abs(expected[i][1])), $"gelu'({values[i]:R}) · w = {grad[i]:R}, PyTorch {expected[i][1]:R}");
            }
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(33)]
    [InlineData(70_001)]
    public void FusedKernelsMatchTheComposite(int n)
    {
        foreach (var dtype in new[] { DType.Float32, DType.Float64 })
        {
            var rng = Rng.ForKey(62, (ulong)n, (ulong)dtype);
            var x = GradCheck.Random(new Shape(n), ref rng, dtype, -5, 5);
            var w = GradCheck.Random(new Shape(n), ref rng, dtype);
            x.RequiresGrad = true;
            var (composedY, composedGrad) = ValueAndGradient(Ops.GeluComposite.Composed, x, w);
            var (fusedY, fusedGrad) = ValueAndGradient(Ops.GeluComposite.Fused, x, w);
            // The composite rounds at each of its seven parts (float32: a few ulp of the largest part).
            double tolerance = dtype == DType.Float32 ? 1e-5 : 1e-13;
            for (int i = 0; i < n; i++)
            {
                Assert.True(Math.Abs(fusedY[i] - composedY[i]) <= tolerance * Math.Max(1, Math.Abs(composedY[i])), $"{dtype.Name()} n={n} y[{i}]: fused {fusedY[i]:R}, composite {composedY[i]:R}");
                Assert.True(Math.Abs(fusedGrad[i] - composedGrad[i]) <= tolerance * Math.Max(1, Math.Abs(composedGrad[i])), $"{dtype.Name()} n={n} dx[{i}]: fused {fusedGrad[i]:R}, composite {composedGrad[i]:R}");
            }
        }
    }

    private static (double[] Y, double[] Grad) ValueAndGradient(Func<Tensor, Tensor> gelu, Tensor x, Tensor w)
    {
        x.Grad = null;
        using var scope = TensorScope.Begin();
        var y = gelu(x);
        Ops.SumAll(Ops.Mul(y, w)).Backward();
        return (Read(y), Read(x.Grad!));
    }

    private static double[] Read(Tensor t) => t.DType == DType.Float64 ? t.ToArray<double>() : Array.ConvertAll(t.ToArray<float>(), v => (double)v);

    [Fact]
    public void TheFusedKernelsRunOnlyWhenPreferred()
    {
        var rng = new Rng(63);
        var x = GradCheck.RandomDouble(new Shape(5), ref rng);
        using var scope = TensorScope.Begin();
        Ops.Gelu(x);
        Assert.True(Tape.Count > 1, "outside PreferFused the parts are recorded");
        Tape.Clear();
        using (ElementwiseComposite.PreferFused())
        {
            var y = Ops.Gelu(x);
            Assert.Equal(1, Tape.Count);
            Assert.Equal("gelu", y.GradFn!.Name);
        }
        Tape.Clear();
        Ops.Gelu(x);
        Assert.True(Tape.Count > 1, "the scope ended");
        Tape.Clear();
    }
}
