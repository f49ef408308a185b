using Vicreg.Engine;
using Vicreg.Engine.IO;
using Vicreg.Losses;
using Vicreg.Tests.Engine.IO;
using Vicreg.Tests.App.Losses;

namespace Vicreg.Tests.App.Commands;

public class LossGradCommandTests
{
    private static readonly string[] s_gradients =
    [
        "grad_z_a", "grad_z_b",
        "grad_z_a.invariance", "grad_z_a.variance", "grad_z_a.covariance",
        "grad_z_b.invariance", "grad_z_b.variance", "grad_z_b.covariance",
    ];

    [Fact]
    public void WritesTheLossTermsAndGradientsOfFloat32Embeddings()
    {
        const int n = 9, d = 6;
        using var dir = new TempFolder();
        var a = VicregLossTests.Embeddings(n, d, 31);
        var b = VicregLossTests.Embeddings(n, d, 32);
        using (var scope = TensorScope.Begin())
            SafetensorsWriter.Write(dir.File("in.safetensors"),
            [
                ("z_a", Tensor.FromArray<float>(a.Select(v => (float)v).ToArray(), new Shape(n, d))),
                ("z_b", Tensor.FromArray<float>(b.Select(v => (float)v).ToArray(), new Shape(n, d))),
            ]);
        var result = CommandRunner.Run("loss-grad", "--input", dir.File("in.safetensors"), "--output", dir.File("out.safetensors"),
            "--sim-coeff", "2", "--std-coeff", "3", "--cov-coeff", "0.5", "--device", "cpu");
        Assert.True(result.Code == 0, result.Err);
        Assert.Contains("loss", result.Out);

        using var r = new SafetensorsReader(dir.File("out.safetensors"));
        using var scope2 = TensorScope.Begin();
        double Scalar(string name) => r.ReadTensor(name).Item();
        // The terms against the plain double-precision formula, the total against its definition.
        var (inv, var, cov) = VicregLossTests.Reference(a.Select(v => (double)(float)v).ToArray(), b.Select(v => (double)(float)v).ToArray(), n, d);
        Assert.Equal(1, Scalar("invariance") / inv, 5);
        Assert.Equal(1, Scalar("variance") / var, 5);
        Assert.Equal(1, Scalar("covariance") / cov, 4);
        Assert.Equal(1, Scalar("loss") / (2 * inv + 3 * var + 0.5 * cov), 5);
        Assert.Equal(SafetensorsDType.F32, r["loss"].DType);
        Assert.Equal(new Shape(), r["loss"].Shape);
        foreach (var name in s_gradients)
        {
            Assert.Equal(new Shape(n, d), r[name].Shape);
            Assert.Equal(SafetensorsDType.F32, r[name].DType);
        }
        // The total gradient is the weighted sum of the term gradients.
        var ga = r.ReadTensor("grad_z_a").ToArray<float>();
        var gi = r.ReadTensor("grad_z_a.invariance").ToArray<float>();
        var gv = r.ReadTensor("grad_z_a.variance").ToArray<float>();
        var gc = r.ReadTensor("grad_z_a.covariance").ToArray<float>();
        for (int k = 0; k < ga.Length; k++)
        {
            double expected = 2.0 * gi[k] + 3.0 * gv[k] + 0.5 * gc[k];
            Assert.True(Math.Abs(expected - ga[k]) <= 1e-5 * Math.Max(1, Math.Abs(expected)), $"element {k}: {expected} vs {ga[k]}");
        }
        Assert.Equal("2", r.Metadata["sim_coeff"]);
    }

    [SkippableFact]
    [Trait("Reference", "PyTorch")]
    public void MatchesThePyTorchReferenceOnFloat64Input()
    {
        PythonReference.SkipUnlessTorch();
        const int n = 6, d = 8;
        using var dir = new TempFolder();
        using (var scope = TensorScope.Begin())
            SafetensorsWriter.Write(dir.File("in.safetensors"),
            [
                ("z_a", Tensor.FromArray<double>(VicregLossTests.Embeddings(n, d, 33), new Shape(n, d))),
                ("z_b", Tensor.FromArray<double>(VicregLossTests.Embeddings(n, d, 34), new Shape(n, d))),
            ]);
        var result = CommandRunner.Run("loss-grad", "--input", dir.File("in.safetensors"), "--output", dir.File("ours.safetensors"), "--device", "cpu");
        Assert.True(result.Code == 0, result.Err);
        PythonReference.RunScript("vicreg_loss_reference.py", dir.File("in.safetensors"), dir.File("torch.safetensors"));

        using var ours = new SafetensorsReader(dir.File("ours.safetensors"));
        using var torch = new SafetensorsReader(dir.File("torch.safetensors"));
        Assert.Equal(torch.Entries.Select(e => e.Name).Order(), ours.Entries.Select(e => e.Name).Order());
        using var scope2 = TensorScope.Begin();
        foreach (var e in torch.Entries)
        {
            var expected = torch.ReadTensor(e.Name).ToArray<double>();
            var actual = ours.ReadTensor(e.Name).ToArray<double>();
            Assert.Equal(expected.Length, actual.Length);
            for (int k = 0; k < expected.Length; k++)
                Assert.True(Math.Abs(expected[k] - actual[k]) <= 1e-10 * Math.Max(1, Math.Abs(expected[k])),
                    $"{e.Name}[{k}]: PyTorch {expected[k]:G17}, ours {actual[k]:G17}");
        }
    }

    [Theory]
    [InlineData(1.0)]
    [InlineData(1e4)]
    public void WithOneDimensionTheCovarianceAndItsGradientAreExactlyZero(double scale)
    {
        const int n = 8;
        using var dir = new TempFolder();
        float[] Values(ulong seed) => VicregLossTests.Embeddings(n, 1, seed).Select(v => (float)(scale * v)).ToArray();
        using (var scope = TensorScope.Begin())
            SafetensorsWriter.Write(dir.File("in.safetensors"),
                [("z_a", Tensor.FromArray<float>(Values(35), new Shape(n, 1))), ("z_b", Tensor.FromArray<float>(Values(36), new Shape(n, 1)))]);
        var result = CommandRunner.Run("loss-grad", "--input", dir.File("in.safetensors"), "--output", dir.File("out.safetensors"), "--device", "cpu");
        Assert.True(result.Code == 0, result.Err);
        Assert.Equal("", result.Err);
        using var r = new SafetensorsReader(dir.File("out.safetensors"));
        using var scope2 = TensorScope.Begin();
        Assert.Equal(0, r.ReadTensor("covariance").Item());
        Assert.All(r.ReadTensor("grad_z_a.covariance").ToArray<float>(), g => Assert.Equal(0f, g));
        Assert.All(r.ReadTensor("grad_z_b.covariance").ToArray<float>(), g => Assert.Equal(0f, g));
    }

    [Fact]
    public void NonFiniteInputIsOneWarningLine()
    {
        const int n = 5, d = 3;
        using var dir = new TempFolder();
        var a = VicregLossTests.Embeddings(n, d, 37).Select(v => (float)v).ToArray();
        var b = VicregLossTests.Embeddings(n, d, 38).Select(v => (float)v).ToArray();
        a[4] = float.NaN;
        b[0] = float.PositiveInfinity;
        b[7] = float.NegativeInfinity;
        using (var scope = TensorScope.Begin())
            SafetensorsWriter.Write(dir.File("in.safetensors"),
                [("z_a", Tensor.FromArray<float>(a, new Shape(n, d))), ("z_b", Tensor.FromArray<float>(b, new Shape(n, d)))]);
        var result = CommandRunner.Run("loss-grad", "--input", dir.File("in.safetensors"), "--output", dir.File("out.safetensors"), "--device", "cpu");
        Assert.Equal(0, result.Code);
        var lines = result.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, "expected one warning line, got: " + result.Err);
        Assert.Contains("warning", lines[0]);
        Assert.Contains("z_a has 1 of 15", lines[0]);
        Assert.Contains("z_b has 2 of 15", lines[0]);
    }

    [Fact]
    public void BadInputIsOneLineAndExitCodeTwo()
    {
        using var dir = new TempFolder();
        string output = dir.File("out.safetensors");
        CommandRunner.AssertUsageError(CommandRunner.Run("loss-grad", "--input", dir.File("none.safetensors"), "--output", output, "--device", "cpu"), "cannot read");
        CommandRunner.AssertUsageError(CommandRunner.Run("loss-grad", "--output", output), "--input is required");

        using var scope = TensorScope.Begin();
        SafetensorsWriter.Write(dir.File("one.safetensors"), [("z_a", Tensor.Full(new Shape(3, 2), 1))]);
        CommandRunner.AssertUsageError(CommandRunner.Run("loss-grad", "--input", dir.File("one.safetensors"), "--output", output, "--device", "cpu"), "no tensor 'z_b'");

        SafetensorsWriter.Write(dir.File("shapes.safetensors"), [("z_a", Tensor.Full(new Shape(3, 2), 1)), ("z_b", Tensor.Full(new Shape(3, 4), 1))]);
        CommandRunner.AssertUsageError(CommandRunner.Run("loss-grad", "--input", dir.File("shapes.safetensors"), "--output", output, "--device", "cpu"), "same shape");

        SafetensorsWriter.Write(dir.File("single.safetensors"), [("z_a", Tensor.Full(new Shape(1, 4), 1)), ("z_b", Tensor.Full(new Shape(1, 4), 2))]);
        CommandRunner.AssertUsageError(CommandRunner.Run("loss-grad", "--input", dir.File("single.safetensors"), "--output", output, "--device", "cpu"), "at least 2 samples");

        SafetensorsWriter.Write(dir.File("ok.safetensors"), [("z_a", Tensor.Full(new Shape(2, 4), 1)), ("z_b", Tensor.Full(new Shape(2, 4), 2))]);
        CommandRunner.AssertUsageError(CommandRunner.Run("loss-grad", "--input", dir.File("ok.safetensors"), "--output", output, "--device", "tpu"), "--device must be");
        CommandRunner.AssertUsageError(CommandRunner.Run("loss-grad", "--input", dir.File("ok.safetensors"), "--output", dir.File("no/such/dir/out.safetensors"), "--device", "cpu"), "cannot write");
        Assert.False(File.Exists(output));
    }
}
