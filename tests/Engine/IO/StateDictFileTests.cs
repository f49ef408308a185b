using Vicreg.Engine;
using Vicreg.Engine.IO;
using Vicreg.Engine.Nn;

namespace Vicreg.Tests.Engine.IO;

public class StateDictFileTests
{
    private static Sequential Model(int hidden, ulong seed, bool lastBias = false)
    {
        var rng = new Rng(seed);
        return new Sequential(new Linear(3, hidden, true, ref rng), new BatchNorm(hidden), new Relu(), new Linear(hidden, 2, lastBias, ref rng));
    }

    private static Dictionary<string, float[]> Floats(Module m) =>
        m.StateDict().Where(p => p.Tensor.DType == DType.Float32).ToDictionary(p => p.Name, p => p.Tensor.ToArray<float>());

    [Fact]
    public void SaveThenLoadRestoresEveryParameterAndBuffer()
    {
        using var dir = new TempFolder();
        string path = dir.File("m.safetensors");
        var a = Model(5, 1);
        var bn = (BatchNorm)a[1];
        bn.RunningMean.CopyFrom<float>([0.1f, 0.2f, 0.3f, 0.4f, 0.5f]);
        bn.NumBatchesTracked.CopyFrom<int>([17]);
        StateDictFile.Save(a, path);

        var b = Model(5, 2);
        Assert.NotEqual(Floats(a)["0.weight"], Floats(b)["0.weight"]);
        StateDictFile.Load(b, path);
        Assert.Equal(Floats(a), Floats(b));
        Assert.Equal(17, ((BatchNorm)b[1]).NumBatchesTracked.ToArray<int>()[0]);
        using var r = new SafetensorsReader(path);
        Assert.Equal(SafetensorsDType.I64, r["1.num_batches_tracked"].DType);
        Assert.Equal(a.StateDict().Select(p => p.Name).Order(), r.Entries.Select(e => e.Name).Order());
    }

    [Fact]
    public void AMismatchReportsEveryMissingUnexpectedAndMisShapedNameAndLeavesTheModelUntouched()
    {
        using var dir = new TempFolder();
        string path = dir.File("m.safetensors");
        StateDictFile.Save(Model(5, 1, lastBias: true), path); // has 3.bias, hidden 5

        var target = Model(4, 3);                               // hidden 4, no 3.bias
        var before = Floats(target);
        var e = Assert.Throws<WeightsMismatchException>(() => StateDictFile.Load(target, path));
        Assert.Empty(e.Missing);
        Assert.Equal(["3.bias"], e.Unexpected);
        Assert.Equal(["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var", "3.weight"], e.ShapeMismatches.Select(s => s.Name));
        var w = e.ShapeMismatches[0];
        Assert.Equal((new Shape(4, 3), new Shape(5, 3)), (w.Expected, w.Found));
        Assert.Contains("0.weight: model [4, 3], file [5, 3]", e.Message);
        Assert.Contains("1 unexpected (3.bias)", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Assert.Equal(before, Floats(target));

        var extra = Model(5, 4, lastBias: false);
        StateDictFile.Save(extra, path);
        var wantsBias = Model(5, 5, lastBias: true);
        var missing = Assert.Throws<WeightsMismatchException>(() => StateDictFile.Load(wantsBias, path));
        Assert.Equal(["3.bias"], missing.Missing);
        Assert.Contains("1 missing (3.bias)", missing.Message);
    }

    [Fact]
    public void PrefixAndIgnoreSelectPartOfAFile()
    {
        using var dir = new TempFolder();
        string path = dir.File("ckpt.safetensors");
        var backbone = Model(5, 1);
        var rng = new Rng(9);
        var head = new Linear(2, 7, true, ref rng);
        SafetensorsWriter.Write(path, backbone.StateDict("backbone.").Concat(head.StateDict("fc.")));

        var b = Model(5, 2);
        StateDictFile.Load(b, path, prefix: "backbone.");
        Assert.Equal(Floats(backbone), Floats(b));

        // A torchvision-style file: the backbone's names at the top level plus an fc head to skip.
        SafetensorsWriter.Write(path, backbone.StateDict().Concat(head.StateDict("fc.")));
        var c = Model(5, 3);
        Assert.Throws<WeightsMismatchException>(() => StateDictFile.Load(c, path));
        StateDictFile.Load(c, path, ignore: n => n.StartsWith("fc.", StringComparison.Ordinal));
        Assert.Equal(Floats(backbone), Floats(c));
    }
}
