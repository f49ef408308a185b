using Vicreg.Engine;
using Vicreg.Engine.Nn;
using Vicreg.Engine.Models;

namespace Vicreg.Tests.Engine.Models;

public class ExpanderTests
{
    [Fact]
    public void LayersFollowTheOfficialProjector()
    {
        var rng = new Rng(1);
        var e = Expander.Create(12, "16-8-5", ref rng);
        var names = e.StateDict().Select(p => $"{p.Name} {p.Tensor.Shape}").ToList();
        Assert.Equal(
        [
            "0.weight [16, 12]", "0.bias [16]",
            "1.weight [16]", "1.bias [16]", "1.running_mean [16]", "1.running_var [16]", "1.num_batches_tracked []",
            "3.weight [8, 16]", "3.bias [8]",
            "4.weight [8]", "4.bias [8]", "4.running_mean [8]", "4.running_var [8]", "4.num_batches_tracked []",
            "6.weight [5, 8]",
        ], names);
        Assert.Equal(5, Expander.OutputSize("16-8-5"));
        // PyTorch's default Linear init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
        var w = e.StateDict().First().Tensor.ToArray<float>();
        Assert.All(w, v => Assert.InRange(v, -1 / Math.Sqrt(12), 1 / Math.Sqrt(12)));
        Assert.True(w.Max() - w.Min() > 0.3);
    }

    [Fact]
    public void BarlowTwinsProjectorHasNoBiasAnywhereAndKeepsBatchNormAndReluAfterEachHiddenLinear()
    {
        var rng = new Rng(1);
        var e = Expander.Create(12, "16-8-5", ref rng, hiddenBias: false);
        var names = e.StateDict().Select(p => $"{p.Name} {p.Tensor.Shape}").ToList();
        Assert.Equal(
        [
            "0.weight [16, 12]",
            "1.weight [16]", "1.bias [16]", "1.running_mean [16]", "1.running_var [16]", "1.num_batches_tracked []",
            "3.weight [8, 16]",
            "4.weight [8]", "4.bias [8]", "4.running_mean [8]", "4.running_var [8]", "4.num_batches_tracked []",
            "6.weight [5, 8]",
        ], names);
        Assert.Equal(7, e.Count);
        Assert.Equal([typeof(Linear), typeof(BatchNorm), typeof(Relu), typeof(Linear), typeof(BatchNorm), typeof(Relu), typeof(Linear)],
            Enumerable.Range(0, e.Count).Select(i => e[i].GetType()));
    }

    [Fact]
    public void ASingleSizeIsOneLinearWithoutBias()
    {
        var rng = new Rng(2);
        var e = Expander.Create(7, "3", ref rng);
        Assert.Equal(["0.weight"], e.StateDict().Select(p => p.Name));
    }

    [Theory]
    [InlineData("")]
    [InlineData("8192-")]
    [InlineData("8192--8192")]
    [InlineData("8192-x")]
    [InlineData("0-8")]
    [InlineData("-5")]
    [InlineData("8192 8192")]
    public void MalformedSpecsAreAClearError(string spec)
    {
        var rng = new Rng(3);
        var ex = Assert.Throws<ArgumentException>(() => Expander.Create(4, spec, ref rng));
        Assert.Contains("--mlp", ex.Message);
        if (spec.Length > 0) Assert.Contains($"'{spec}'", ex.Message);
    }
}
