using Vicreg.Engine;
using Vicreg.Engine.Backends.Cpu;
using Vicreg.Engine.IO;
using Vicreg.Losses;
using Vicreg.Tests.Engine;
using Vicreg.Tests.Engine.IO;

namespace Vicreg.Tests.App.Losses;

public class BarlowTwinsLossTests
{
    private static Tensor T64(double[] v, int n, int d, bool grad = false)
    {
        var t = Tensor.FromArray<double>(v, new Shape(n, d), CpuBackend.Instance);
        t.RequiresGrad = grad;
        return t;
    }

    /// <summary>The loss as plain loops from the definition.</summary>
    private static (double On, double Off) Reference(double[] za, double[] zb, int n, int d)
    {
        double[] Normalize(double[] z)
        {
            var r = new double[z.Length];
            for (int j = 0; j < d; j++)
            {
                double m = 0, v = 0;
                for (int i = 0; i < n; i++) m += z[i * d + j];
                m /= n;
                for (int i = 0; i < n; i++) v += (z[i * d + j] - m) * (z[i * d + j] - m);
                v /= n;
                for (int i = 0; i < n; i++) r[i * d + j] = (z[i * d + j] - m) / Math.Sqrt(v + 1e-5);
            }
            return r;
        }
        var a = Normalize(za);
        var b = Normalize(zb);
        double on = 0, off = 0;
        for (int p = 0; p < d; p++)
            for (int q = 0; q < d; q++)
            {
                double c = 0;
                for (int i = 0; i < n; i++) c += a[i * d + p] * b[i * d + q];
                c /= n;
                if (p == q) on += (1 - c) * (1 - c);
                else off += c * c;
            }
        return (on, off);
    }

    [Theory]
    [InlineData(2, 3)]
    [InlineData(7, 5)]
    [InlineData(4, 9)]
    [InlineData(5, 1)]
    public void TermsEqualThePlainFormulaAndTheGradientMatchesFiniteDifferences(int n, int d)
    {
        var a = VicregLossTests.Embeddings(n, d, 51);
        var b = VicregLossTests.Embeddings(n, d, 52);
        var loss = new BarlowTwinsLoss(0.3); // a large lambda so the off-diagonal part weighs in the check
        using (var scope = TensorScope.Begin())
        {
            var (total, terms) = loss.Forward(T64(a, n, d), T64(b, n, d));
            var (on, off) = Reference(a, b, n, d);
            var t = terms.ToArray<double>();
            Assert.True(Math.Abs(on - t[0]) <= 1e-10 * Math.Max(1, on), $"on-diagonal {t[0]} vs {on}");
            Assert.True(Math.Abs(off - t[1]) <= 1e-10 * Math.Max(1, off), $"off-diagonal {t[1]} vs {off}");
            Assert.Equal(on + 0.3 * off, total.Item(), 9);
        }
        GradCheck.Check(x => loss.Forward(x[0], x[1]).Loss, [T64(a, n, d, true), T64(b, n, d, true)], tolerance: 1e-6);
    }

    [Theory]
    [InlineData(1.0)]
    [InlineData(1e3)]
    public void WithOneDimensionNothingIsOffTheDiagonal(double scale)
    {
        // D = 1 has no off-diagonal element: the term is exactly 0 and lambda changes nothing in the gradient.
        const int n = 9;
        float[] Values(ulong seed) => VicregLossTests.Embeddings(n, 1, seed).Select(v => (float)(scale * v)).ToArray();
        float[] a = Values(53), b = Values(54);
        float[] Gradient(double lambda, out float offDiagonal)
        {
            using var scope = TensorScope.Begin();
            var za = Tensor.FromArray<float>(a, new Shape(n, 1));
            var zb = Tensor.FromArray<float>(b, new Shape(n, 1));
            za.RequiresGrad = zb.RequiresGrad = true;
            var (total, terms) = new BarlowTwinsLoss(lambda).Forward(za, zb);
            offDiagonal = terms.ToArray<float>()[1];
            total.Backward();
            return [.. za.Grad!.ToArray<float>(), .. zb.Grad!.ToArray<float>()];
        }
        var withLambda = Gradient(0.3, out float off);
        var without = Gradient(0, out _);
        Assert.Equal(0f, off);
        Assert.Equal(without, withLambda);
    }

    [Theory]
    [InlineData(0.0)] // the off-diagonal term alone, as `loss-grad --loss barlowtwins` writes its gradient
    [InlineData(2.5)]
    public void AWeightedOnDiagonalTermHasItsValueAndGradient(double weight)
    {
        const int n = 6, d = 5;
        var a = VicregLossTests.Embeddings(n, d, 55);
        var b = VicregLossTests.Embeddings(n, d, 56);
        var loss = new BarlowTwinsLoss(0.7, onDiagonalWeight: weight);
        var (on, off) = Reference(a, b, n, d);
        using (var scope = TensorScope.Begin())
            Assert.Equal(weight * on + 0.7 * off, loss.Forward(T64(a, n, d), T64(b, n, d)).Loss.Item(), 9);
        GradCheck.Check(x => loss.Forward(x[0], x[1]).Loss, [T64(a, n, d, true), T64(b, n, d, true)], tolerance: 1e-6);
    }

    [SkippableFact]
    [Trait("Reference", "PyTorch")]
    public void MatchesTheOfficialPyTorchFormula()
    {
        PythonReference.SkipUnlessTorch();
        const int n = 6, d = 7;
        using var dir = new TempFolder();
        var a = VicregLossTests.Embeddings(n, d, 53);
        var b = VicregLossTests.Embeddings(n, d, 54);
        using var scope = TensorScope.Begin();
        SafetensorsWriter.Write(dir.File("in.safetensors"), [("z_a", T64(a, n, d)), ("z_b", T64(b, n, d))]);
        PythonReference.RunScript("barlow_twins_loss_reference.py", dir.File("in.safetensors"), dir.File("out.safetensors"), "0.0051");
        using var r = new SafetensorsReader(dir.File("out.safetensors"));
        var za = T64(a, n, d, true);
        var zb = T64(b, n, d, true);
        var (loss, terms) = new BarlowTwinsLoss().Forward(za, zb);
        Assert.Equal(r.ReadTensor("loss").Item(), loss.Item(), 10);
        Assert.Equal(r.ReadTensor("on_diagonal").Item(), terms.ToArray<double>()[0], 10);
        Assert.Equal(r.ReadTensor("off_diagonal").Item(), terms.ToArray<double>()[1], 10);
        loss.Backward();
        foreach (var (name, grad) in new[] { ("grad_z_a", za.Grad!), ("grad_z_b", zb.Grad!) })
        {
            var expected = r.ReadTensor(name).ToArray<double>();
            var actual = grad.ToArray<double>();
            for (int k = 0; k < expected.Length; k++)
                Assert.True(Math.Abs(expected[k] - actual[k]) <= 1e-9 * Math.Max(1, Math.Abs(expected[k])), $"{name}[{k}]: {expected[k]} vs {actual[k]}");
        }
    }
}
