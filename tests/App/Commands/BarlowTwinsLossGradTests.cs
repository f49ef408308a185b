using Vicreg.Engine;
using Vicreg.Engine.IO;
using Vicreg.Tests.Engine.IO;
using Vicreg.Tests.App.Losses;

namespace Vicreg.Tests.App.Commands;

/// <summary>`vicreg loss-grad --loss barlowtwins`: its file against the official formula in PyTorch (float64), and the
/// float32 path's total gradient against its terms'.</summary>
public class BarlowTwinsLossGradTests
{
    private static readonly string[] s_names =
    [
        "loss", "on_diagonal", "off_diagonal", "grad_z_a", "grad_z_b",
        "grad_z_a.on_diagonal", "grad_z_a.off_diagonal", "grad_z_b.on_diagonal", "grad_z_b.off_diagonal",
    ];

    private static void WriteInput(string path, int n, int d, bool wide)
    {
        var a = VicregLossTests.Embeddings(n, d, 61);
        var b = VicregLossTests.Embeddings(n, d, 62);
        using var scope = TensorScope.Begin();
        SafetensorsWriter.Write(path, wide
            ? [("z_a", Tensor.FromArray<double>(a, new Shape(n, d))), ("z_b", Tensor.FromArray<double>(b, new Shape(n, d)))]
            : [("z_a", Tensor.FromArray<float>(a.Select(v => (float)v).ToArray(), new Shape(n, d))), ("z_b", Tensor.FromArray<float>(b.Select(v => (float)v).ToArray(), new Shape(n, d)))]);
    }

    [SkippableFact]
    [Trait("Reference", "PyTorch")]
    public void MatchesTheOfficialFormulaInPyTorchOnFloat64Input()
    {
        PythonReference.SkipUnlessTorch();
        using var dir = new TempFolder();
        WriteInput(dir.File("in.safetensors"), 7, 5, wide: true);
        var result = CommandRunner.Run("loss-grad", "--loss", "barlowtwins", "--lambd", "0.3", "--input", dir.File("in.safetensors"),
            "--output", dir.File("ours.safetensors"), "--device", "cpu");
        Assert.True(result.Code == 0, result.Err);
        Assert.Contains("Barlow Twins loss", result.Out);
        PythonReference.RunScript("barlow_twins_loss_reference.py", dir.File("in.safetensors"), dir.File("torch.safetensors"), "0.3");
        using var ours = new SafetensorsReader(dir.File("ours.safetensors"));
        using var torch = new SafetensorsReader(dir.File("torch.safetensors"));
        Assert.Equal(s_names.Order(), ours.Entries.Select(e => e.Name).Order());
        Assert.Equal(s_names.Order(), torch.Entries.Select(e => e.Name).Order());
        Assert.Equal("0.3", ours.Metadata["lambd"]);
        using var scope = TensorScope.Begin();
        foreach (var name in s_names)
        {
            var expected = torch.ReadTensor(name).ToArray<double>();
            var actual = ours.ReadTensor(name).ToArray<double>();
            Assert.Equal(expected.Length, actual.Length);
            double scale = Math.Max(1, expected.Max(Math.Abs));
            for (int k = 0; k < expected.Length; k++)
                Assert.True(Math.Abs(expected[k] - actual[k]) <= 1e-10 * scale, $"{name}[{k}]: PyTorch {expected[k]:G17}, ours {actual[k]:G17}");
        }
    }

    [Fact]
    public void Float32TotalIsTheWeightedSumOfItsTerms()
    {
        const int n = 9, d = 4;
        using var dir = new TempFolder();
        WriteInput(dir.File("in.safetensors"), n, d, wide: false);
        var result = CommandRunner.Run("loss-grad", "--loss", "barlowtwins", "--lambd", "0.25", "--input", dir.File("in.safetensors"),
            "--output", dir.File("out.safetensors"), "--device", "cpu");
        Assert.True(result.Code == 0, result.Err);
        using var r = new SafetensorsReader(dir.File("out.safetensors"));
        using var scope = TensorScope.Begin();
        Assert.Equal(SafetensorsDType.F32, r["grad_z_a"].DType);
        Assert.Equal(new Shape(n, d), r["grad_z_b.off_diagonal"].Shape);
        double on = r.ReadTensor("on_diagonal").Item(), off = r.ReadTensor("off_diagonal").Item();
        Assert.Equal(1, r.ReadTensor("loss").Item() / (on + 0.25 * off), 5);
        foreach (var branch in new[] { "grad_z_a", "grad_z_b" })
        {
            var total = r.ReadTensor(branch).ToArray<float>();
            var onGrad = r.ReadTensor(branch + ".on_diagonal").ToArray<float>();
            var offGrad = r.ReadTensor(branch + ".off_diagonal").ToArray<float>();
            double scale = total.Max(v => Math.Abs(v));
            for (int k = 0; k < total.Length; k++)
                Assert.True(Math.Abs(onGrad[k] + 0.25 * offGrad[k] - total[k]) <= 1e-5 * scale, $"{branch}[{k}]: {onGrad[k]} + 0.25 x {offGrad[k]} vs {total[k]}");
            Assert.True(offGrad.Any(v => Math.Abs(v) > 1e-3 * scale), "the off-diagonal gradient must not vanish on correlated embeddings");
        }
    }

    [Fact]
    public void AnUnknownLossIsOneLineAndExitCodeTwo()
    {
        using var dir = new TempFolder();
        WriteInput(dir.File("in.safetensors"), 3, 2, wide: false);
        CommandRunner.AssertUsageError(CommandRunner.Run("loss-grad", "--loss", "simclr", "--input", dir.File("in.safetensors"),
            "--output", dir.File("out.safetensors"), "--device", "cpu"), "--loss must be vicreg or barlowtwins");
        CommandRunner.AssertUsageError(CommandRunner.Run("loss-grad", "--loss", "barlowtwins", "--lambd", "-1", "--input", dir.File("in.safetensors"),
            "--output", dir.File("out.safetensors"), "--device", "cpu"), "--lambd must be at least 0");
        Assert.False(File.Exists(dir.File("out.safetensors")));
    }
}
