using Vicreg.Engine;
using Vicreg.Engine.IO;
using Vicreg.Engine.IO.Pytorch;
using Vicreg.Engine.Nn;
using static Vicreg.Tests.Engine.IO.TestPickles;

namespace Vicreg.Tests.Engine.IO;

public class PytorchCheckpointTests
{
    private const string Script = "pytorch_checkpoint_reference.py";

    [SkippableTheory]
    [Trait("Reference", "PyTorch")]
    [InlineData("zip", "zip format")]
    [InlineData("legacy", "legacy format")]
    public void ViewsStridesOffsetsAndEveryTypeEqualPytorchs(string format, string description)
    {
        PythonReference.SkipUnlessTorch();
        using var dir = new TempFolder();
        PythonReference.RunScript(Script, "views", format, dir.File("v.pth"), dir.File("expected.safetensors"));
        using var pth = new PytorchCheckpoint(dir.File("v.pth"));
        using var expected = new SafetensorsReader(dir.File("expected.safetensors"));
        Assert.Equal(description, pth.FormatDescription);
        Assert.Equal(["transposed", "base", "first_view", "second_view", "scalar", "half", "bfloat", "double", "bn.num_batches_tracked", "int"],
            pth.Tensors.Select(t => t.Name));
        using var scope = TensorScope.Begin();
        foreach (var e in expected.Entries)
        {
            // Floats are compared as float32, the type the model's tensors have (float64 narrows, half types widen).
            var ours = Vicreg.Engine.Tensor.Empty(e.Shape, e.DType.IsFloating() ? DType.Float32 : DType.Int32);
            pth.ReadInto(e.Name, ours);
            if (e.DType.IsFloating()) Assert.Equal(expected.ReadTensor(e.Name).ToArray<float>(), ours.ToArray<float>());
            else Assert.Equal(expected.ReadTensor(e.Name).ToArray<int>(), ours.ToArray<int>());
        }
        Assert.Equal("float16", pth.Tensors.Single(t => t.Name == "half").TypeName);
        Assert.Equal(new Shape(5, 7), pth.Tensors.Single(t => t.Name == "transposed").Shape);
        Assert.Equal(DType.Float64, pth.ReadTensor("double").DType);
    }

    [SkippableTheory]
    [Trait("Reference", "PyTorch")]
    [InlineData("os-system", "os.system")]
    [InlineData("builtins-eval", "builtins.eval")]
    [InlineData("load-from-bytes", "torch.storage._load_from_bytes")]
    public void AHostilePickleIsRefusedNamingTheGlobalAndNothingRuns(string kind, string global)
    {
        PythonReference.SkipUnlessTorch();
        using var dir = new TempFolder();
        string marker = dir.File("marker");
        PythonReference.RunScript(Script, "hostile", kind, dir.File("h.pth"), marker);
        var e = Assert.Throws<PytorchFormatException>(() => new PytorchCheckpoint(dir.File("h.pth")));
        Assert.Contains($"refused: the pickle calls {global}", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Assert.False(File.Exists(marker));
        if (kind == "load-from-bytes") return; // its payload is inert: it stands for a global that is not on the list
        // The file is truly hostile: Python's own unpickler runs the payload.
        PythonReference.Run(["-c", $"import pickle, zipfile; pickle.loads(zipfile.ZipFile('{dir.File("h.pth")}').read('archive/data.pkl'))"], throwOnError: false);
        Assert.True(File.Exists(marker), "the hostile file did not run its payload under Python's pickle");
    }

    private static byte[] OneTensor(long numel, long[] sizes, long[] strides, long offset = 0, string type = "FloatStorage", bool legacy = false) =>
        Dict(("w", RebuildTensor(Storage("0", numel, type, legacy), offset, sizes, strides)));

    public static TheoryData<string, byte[], string> RefusedPickles => new()
    {
        { "a REDUCE on an unexpected callable", Dict(("w", Concat(Global("__builtin__", "getattr"), Tuple(Str("a"), Str("b")), Op("R")))), "calls __builtin__.getattr" },
        { "torch's old tensor rebuild", Dict(("w", Concat(Global("torch._utils", "_rebuild_tensor"), Op(")R")))), "calls torch._utils._rebuild_tensor" },
        { "an OrderedDict with arguments", Dict(("w", Concat(Global("collections", "OrderedDict"), Tuple(Str("x")), Op("R")))), "collections.OrderedDict called with arguments" },
        { "BUILD on a global", Dict(("w", Concat(Global("os", "environ"), Op("}b")))), "builds os.environ" },
        { "NEWOBJ", Dict(("w", Concat(Global("subprocess", "Popen"), Op(")"), [0x81]))), "instantiates subprocess.Popen" },
        { "a storage type outside the list", Dict(("w", RebuildTensor(Storage("0", 4, "UntypedStorage"), 0, [4], [1]))), "names torch.UntypedStorage as a storage type" },
        { "INST", Concat([0x80, 2], Op("(ios\nsystem\n.")), "opcode 0x69 (INST)" },
        { "a tensor beyond its storage", OneTensor(4, [8], [1]), "reaches element 7 of a storage of 4" },
        { "a view whose offset leaves its storage", OneTensor(4, [2, 2], [2, 1], offset: 1), "reaches element 4 of a storage of 4" },
        { "a transposed view beyond its storage", OneTensor(4, [2, 3], [1, 2]), "reaches element 5 of a storage of 4" },
        { "a huge declared storage", OneTensor(1L << 61, [4], [1]), "more than a 64-bit length holds" },
        { "a huge declared tensor", OneTensor(4, [1L << 40, 1L << 40, 1L << 40], [1, 1, 1]), "invalid size" },
        { "sizes whose product overflows", OneTensor(4, [1L << 31 - 1, 1L << 31 - 1, 1L << 31 - 1], [0, 0, 0]), "overflow" },
        { "a huge declared string", Concat([0x80, 2, (byte)'X', 0xff, 0xff, 0xff, 0x7f], Op("abc.")), "a length of 2147483647 bytes where 4 remain" },
        { "nesting 100000 MARKs deep", Concat([0x80, 2], Enumerable.Repeat((byte)'(', 100_000).ToArray(), Op(".")), "nested deeper than 1000 levels" },
        { "a tuple nested 100000 deep", Concat([0x80, 2], Op(")"), Enumerable.Repeat((byte)0x85, 100_000).ToArray(), Op(".")), "holds a tuple, not a state dict" },
        { "a list that holds itself", Concat([0x80, 2], Op("]2a.")), "holds a list, not a state dict" },
        { "no STOP", Dict(("w", Str("x")))[..^1], "the pickle ends early" },
        { "an unknown memo entry", Concat([0x80, 2], Op("h"), [7], Op(".")), "memo entry 7 was never stored" },
        { "no tensors", Dict(("epoch", Int(3))), "holds no tensors at its top level nor in a 'state_dict' or 'model' entry (top-level keys: epoch)" },
    };

    [Theory]
    [MemberData(nameof(RefusedPickles))]
    public void AHostileOrDamagedPickleIsOneLineAndAllocatesLittle(string what, byte[] pickle, string expected)
    {
        using var dir = new TempFolder();
        Zip(dir.File("z.pth"), pickle, ("0", Floats(1, 2, 3, 4)));
        long before = GC.GetTotalAllocatedBytes(precise: true);
        var e = Assert.Throws<PytorchFormatException>(() => new PytorchCheckpoint(dir.File("z.pth")));
        Assert.True(GC.GetTotalAllocatedBytes(precise: true) - before < 64 << 20, $"{what}: allocated too much before refusing");
        Assert.True(e.Message.Contains(expected, StringComparison.Ordinal), e.Message);
        Assert.StartsWith(dir.File("z.pth") + ": ", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void ARecordOfAnotherLengthThanItsStorageIsRefused()
    {
        using var dir = new TempFolder();
        Zip(dir.File("short.pth"), OneTensor(8, [8], [1]), ("0", Floats(1, 2, 3, 4)));
        Assert.Contains("storage '0' declares 8 float32 elements (32 bytes) but its record holds 16 bytes",
            Assert.Throws<PytorchFormatException>(() => new PytorchCheckpoint(dir.File("short.pth"))).Message);
        // A compressed record could inflate far beyond the file: torch.save never writes one, so it is refused unread.
        Zip(dir.File("deflated.pth"), OneTensor(1 << 20, [4], [1]), System.IO.Compression.CompressionLevel.Optimal, ("0", new byte[4 << 20]));
        Assert.Contains("record archive/data/0 is compressed or longer than the file",
            Assert.Throws<PytorchFormatException>(() => new PytorchCheckpoint(dir.File("deflated.pth"))).Message);
        Zip(dir.File("missing.pth"), OneTensor(4, [4], [1]));
        Assert.Contains("storage '0' has no record archive/data/0",
            Assert.Throws<PytorchFormatException>(() => new PytorchCheckpoint(dir.File("missing.pth"))).Message);
        TestPickles.Legacy(dir.File("legacy.pth"), OneTensor(4, [4], [1], legacy: true), ("0", 4, Floats(1, 2, 3)));
        Assert.Contains("storage '0' needs 16 bytes but only 12 remain",
            Assert.Throws<PytorchFormatException>(() => new PytorchCheckpoint(dir.File("legacy.pth"))).Message);
        TestPickles.Legacy(dir.File("count.pth"), OneTensor(4, [4], [1], legacy: true), ("0", 3, Floats(1, 2, 3, 4)));
        Assert.Contains("storage '0' holds 3 elements but the pickle declares 4",
            Assert.Throws<PytorchFormatException>(() => new PytorchCheckpoint(dir.File("count.pth"))).Message);
    }

    [Fact]
    public void ATruncatedFileIsOneLineInEitherFormat()
    {
        using var dir = new TempFolder();
        var rng = new Rng(6);
        PytorchWriter.Write(dir.File("whole.pth"), new Linear(7, 5, true, ref rng).StateDict());
        TestPickles.Legacy(dir.File("whole-legacy.pth"), OneTensor(4, [4], [1], legacy: true), ("0", 4, Floats(1, 2, 3, 4)));
        foreach (var whole in new[] { "whole.pth", "whole-legacy.pth" })
        {
            var bytes = File.ReadAllBytes(dir.File(whole));
            foreach (int length in new[] { 4, 30, bytes.Length / 2, bytes.Length - 1 })
            {
                File.WriteAllBytes(dir.File("cut.pth"), bytes[..length]);
                var e = Assert.Throws<PytorchFormatException>(() => new PytorchCheckpoint(dir.File("cut.pth")));
                Assert.True(e.Message.StartsWith(dir.File("cut.pth") + ": not a valid PyTorch ", StringComparison.Ordinal), e.Message);
                Assert.DoesNotContain('\n', e.Message);
            }
        }
    }

    [Fact]
    public void HandWrittenViewsOfOneStorageReadTheirOwnElementsInBothFormats()
    {
        using var dir = new TempFolder();
        var values = Enumerable.Range(0, 12).Select(i => (float)(i * 1.5 - 4)).ToArray();
        var pickle = Dict(
            ("t", RebuildTensor(Storage("7", 12), 0, [4, 3], [1, 4])), // the transpose of a [3, 4] matrix
            ("v", RebuildTensor(Storage("7", 12), 5, [2, 2], [4, 2]))); // rows 1-2, columns 1 and 3
        var legacyPickle = Dict(
            ("t", RebuildTensor(Storage("7", 12, legacy: true), 0, [4, 3], [1, 4])),
            ("v", RebuildTensor(Storage("7", 12, legacy: true), 5, [2, 2], [4, 2])));
        Zip(dir.File("z.pth"), pickle, ("7", Floats(values)));
        TestPickles.Legacy(dir.File("l.pth"), legacyPickle, ("7", 12, Floats(values)));
        foreach (var file in new[] { "z.pth", "l.pth" })
        {
            using var pth = new PytorchCheckpoint(dir.File(file));
            using var scope = TensorScope.Begin();
            float At(int i) => values[i];
            Assert.Equal(new[] { At(0), At(4), At(8), At(1), At(5), At(9), At(2), At(6), At(10), At(3), At(7), At(11) }, pth.ReadTensor("t").ToArray<float>());
            Assert.Equal(new[] { At(5), At(7), At(9), At(11) }, pth.ReadTensor("v").ToArray<float>());
        }
    }

    [Fact]
    public void FilesAreToldApartByContentNotByName()
    {
        using var dir = new TempFolder();
        var rng = new Rng(3);
        var linear = new Linear(3, 2, true, ref rng);
        PytorchWriter.Write(dir.File("really-pth.safetensors"), linear.StateDict());
        StateDictFile.Save(linear, dir.File("really-safetensors.pth"));
        using (var f = WeightsFile.Open(dir.File("really-pth.safetensors"))) Assert.Equal("zip format", f.FormatDescription);
        using (var f = WeightsFile.Open(dir.File("really-safetensors.pth"))) Assert.Equal("safetensors", f.FormatDescription);
        File.WriteAllText(dir.File("text.pth"), "not weights at all");
        Assert.Throws<SafetensorsFormatException>(() => WeightsFile.Open(dir.File("text.pth")));
    }

    [Fact]
    public void TheKnownPrefixIsFoundStrippedAndReportedInOneLine()
    {
        using var dir = new TempFolder();
        var rng = new Rng(4);
        var source = new Linear(3, 2, true, ref rng);
        var projector = new Linear(2, 2, false, ref rng);
        PytorchWriter.Write(dir.File("ddp.pth"), source.StateDict("module.backbone.").Concat(projector.StateDict("module.projector.")));
        var target = new Linear(3, 2, true, ref rng);
        var load = StateDictFile.Load(target, dir.File("ddp.pth"), StateDictFile.AutoPrefix);
        Assert.Equal("read ddp.pth: zip format, prefix 'module.backbone.' stripped, 2 tensors (1 other ignored)", load.ToString());
        Assert.Equal(source.Weight.ToArray<float>(), target.Weight.ToArray<float>());
        Assert.Equal(source.Bias!.ToArray<float>(), target.Bias!.ToArray<float>());
    }

    [Fact]
    public void OurPthReadsBackExactlyWithBatchNormCountersAsInt64()
    {
        using var dir = new TempFolder();
        var rng = new Rng(5);
        var model = new Sequential(new Linear(3, 5, true, ref rng), new BatchNorm(5));
        ((BatchNorm)model[1]).NumBatchesTracked.CopyFrom<int>([9]);
        Init.Uniform(((BatchNorm)model[1]).RunningMean, -1, 1, ref rng);
        PytorchWriter.Write(dir.File("m.pth"), model.StateDict());
        using var pth = new PytorchCheckpoint(dir.File("m.pth"));
        Assert.Equal("int64", pth.Tensors.Single(t => t.Name == "1.num_batches_tracked").TypeName);
        var copy = new Sequential(new Linear(3, 5, true, ref rng), new BatchNorm(5));
        StateDictFile.Load(copy, pth);
        foreach (var ((name, a), (_, b)) in model.StateDict().Zip(copy.StateDict()))
            if (a.DType == DType.Int32) Assert.Equal(a.ToArray<int>(), b.ToArray<int>());
            else Assert.True(a.ToArray<float>().SequenceEqual(b.ToArray<float>()), name);
        Assert.Equal(9, ((BatchNorm)copy[1]).NumBatchesTracked.ToArray<int>()[0]);
    }
}
