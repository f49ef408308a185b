using System.Text.Json;
using Vicreg.Engine;
using Vicreg.Engine.IO;
using Vicreg.Engine.Nn;
using Vicreg.Tests.Engine.IO;

namespace Vicreg.Tests.App.Commands;

public class ConvertCommandTests
{
    private const string Script = "pytorch_checkpoint_reference.py";

    /// <summary>torch.save's file -> safetensors -> our .pth -> torch.load(weights_only=True): every tensor keeps its
    /// values (float types as float32, BatchNorm's counter as int64), in both of torch.save's formats.</summary>
    [SkippableTheory]
    [Trait("Reference", "PyTorch")]
    [InlineData("zip")]
    [InlineData("legacy")]
    public void ConvertBothWaysKeepsEveryTensorAndTorchLoadsTheResultWithWeightsOnly(string format)
    {
        PythonReference.SkipUnlessTorch();
        using var dir = new TempFolder();
        PythonReference.RunScript(Script, "views", format, dir.File("v.pth"), dir.File("expected.safetensors"));

        var toSafetensors = CommandRunner.Run("convert", dir.File("v.pth"), dir.File("v.safetensors"));
        Assert.True(toSafetensors.Code == 0, toSafetensors.Err);
        Assert.Contains($"({format} format) -> {dir.File("v.safetensors")}: 10 tensors", toSafetensors.Out);
        var back = CommandRunner.Run("convert", dir.File("v.safetensors"), dir.File("back.pth"));
        Assert.True(back.Code == 0, back.Err);
        Assert.Contains("(safetensors)", back.Out);

        string dtypes = PythonReference.RunScript(Script, "load", dir.File("back.pth"), dir.File("torch.safetensors"));
        using var json = JsonDocument.Parse(dtypes);
        Assert.Equal("torch.int64", json.RootElement.GetProperty("bn.num_batches_tracked").GetString());
        Assert.Equal("torch.float64", json.RootElement.GetProperty("double").GetString());
        Assert.Equal("torch.float32", json.RootElement.GetProperty("half").GetString()); // widened by the conversion

        using var expected = new SafetensorsReader(dir.File("expected.safetensors"));
        using var converted = new SafetensorsReader(dir.File("v.safetensors"));
        using var torch = new SafetensorsReader(dir.File("torch.safetensors"));
        using var scope = TensorScope.Begin();
        foreach (var e in expected.Entries)
            foreach (var other in new[] { converted, torch })
            {
                var t = Tensor.Empty(e.Shape, e.DType.IsFloating() ? DType.Float32 : DType.Int32);
                other.ReadInto(e.Name, t);
                if (e.DType.IsFloating()) Assert.Equal(expected.ReadTensor(e.Name).ToArray<float>(), t.ToArray<float>());
                else Assert.Equal(expected.ReadTensor(e.Name).ToArray<int>(), t.ToArray<int>());
            }
    }

    [Fact]
    public void MistakesAndHostileFilesAreOneLineAndWriteNothing()
    {
        using var dir = new TempFolder();
        CommandRunner.AssertUsageError(CommandRunner.Run("convert", dir.File("in.pth")), "give the input and the output file");
        CommandRunner.AssertUsageError(CommandRunner.Run("convert", "a", "b", "c"), "unexpected argument 'c'");
        CommandRunner.AssertUsageError(CommandRunner.Run("convert", dir.File("in.pth"), dir.File("out.npy")), "the output's extension chooses its format");
        CommandRunner.AssertUsageError(CommandRunner.Run("convert", dir.File("in.pth"), dir.File("out.safetensors")), "input file not found");

        var payload = TestPickles.Concat(TestPickles.Global("os", "system"), TestPickles.Tuple(TestPickles.Str($"touch {dir.File("marker")}")), TestPickles.Op("R"));
        TestPickles.Zip(dir.File("in.pth"), TestPickles.Dict(("w", payload)));
        CommandRunner.AssertUsageError(CommandRunner.Run("convert", dir.File("in.pth"), dir.File("out.safetensors")),
            "refused: the pickle calls os.system, which a state dict does not need (nothing was run)");
        Assert.False(File.Exists(dir.File("marker")));
        Assert.Equal(["in.pth"], Directory.GetFiles(dir.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void EmbedAndHelpNameTheNewFormats()
    {
        var help = CommandRunner.Run("convert", "--help");
        Assert.Equal(0, help.Code);
        Assert.Contains("usage: vicreg convert IN OUT [flags]", help.Out);
        Assert.Contains("convert", CommandRunner.Run("--help").Out);
        CommandRunner.AssertUsageError(CommandRunner.Run("embed", "stray", "--weights", "w.pth"), "unexpected argument 'stray'");
    }

    [Fact]
    public void APthRoundTripsThroughSafetensorsWithoutPython()
    {
        using var dir = new TempFolder();
        var rng = new Rng(8);
        var model = new Sequential(new Linear(3, 4, true, ref rng), new BatchNorm(4));
        ((BatchNorm)model[1]).NumBatchesTracked.CopyFrom<int>([5]);
        Vicreg.Engine.IO.Pytorch.PytorchWriter.Write(dir.File("a.pth"), model.StateDict());
        Assert.Equal(0, CommandRunner.Run("convert", dir.File("a.pth"), dir.File("b.safetensors")).Code);
        Assert.Equal(0, CommandRunner.Run("convert", dir.File("b.safetensors"), dir.File("c.pt")).Code);
        var copy = new Sequential(new Linear(3, 4, true, ref rng), new BatchNorm(4));
        StateDictFile.Load(copy, dir.File("c.pt"));
        foreach (var ((name, a), (_, b)) in model.StateDict().Zip(copy.StateDict()))
            if (a.DType == DType.Int32) Assert.Equal(a.ToArray<int>(), b.ToArray<int>());
            else Assert.True(a.ToArray<float>().SequenceEqual(b.ToArray<float>()), name);
        using var r = new SafetensorsReader(dir.File("b.safetensors"));
        Assert.Equal(SafetensorsDType.I64, r["1.num_batches_tracked"].DType);
    }
}
