using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Vicreg.Engine;
using Vicreg.Engine.IO;

namespace Vicreg.Tests.Engine.IO;

public class SafetensorsTests
{
    private static double Formula(int i) => Math.Sin(0.37 * i - 2.0) * 3.0;

    private static Tensor Random32(Shape shape, ulong seed)
    {
        var rng = new Rng(seed);
        var v = new float[shape.Numel];
        for (int i = 0; i < v.Length; i++) v[i] = (float)rng.NextNormal();
        return Tensor.FromArray<float>(v, shape);
    }

    private static Tensor Random64(Shape shape, ulong seed)
    {
        var rng = new Rng(seed);
        var v = new double[shape.Numel];
        for (int i = 0; i < v.Length; i++) v[i] = rng.NextNormal();
        return Tensor.FromArray<double>(v, shape);
    }

    [Fact]
    public void RoundTripKeepsNamesTypesShapesValuesAndMetadata()
    {
        using var dir = new TempFolder();
        string path = dir.File("a.safetensors");
        using var a = Random32(new Shape(3, 5, 7), 1);           // 105 floats: odd, so the next tensor would be misaligned if not laid out widest first
        using var b = Random64(new Shape(11), 2);
        using var c = Tensor.FromArray<int>([-7, 0, 3, int.MaxValue, int.MinValue], new Shape(5));
        using var counter = Tensor.FromArray<int>([42], new Shape());
        using var s = Tensor.FromArray<float>([1.5f], new Shape());
        using var empty = Tensor.Empty(new Shape(0, 4));
        var meta = new Dictionary<string, string> { ["format"] = "pt", ["epoch"] = "7", ["ünïcode"] = "√ \"quoted\"" };
        SafetensorsWriter.Write(path, [("layer.a", a), ("b64", b), ("ints", c), ("bn1.num_batches_tracked", counter), ("s", s), ("empty", empty)], meta);

        using var r = new SafetensorsReader(path);
        Assert.Equal(6, r.Entries.Count);
        Assert.Equal(meta, r.Metadata);
        Assert.Equal(SafetensorsDType.F32, r["layer.a"].DType);
        Assert.Equal(SafetensorsDType.F64, r["b64"].DType);
        Assert.Equal(SafetensorsDType.I32, r["ints"].DType);
        Assert.Equal(SafetensorsDType.I64, r["bn1.num_batches_tracked"].DType);
        using var a2 = r.ReadTensor("layer.a");
        using var b2 = r.ReadTensor("b64");
        using var c2 = r.ReadTensor("ints");
        using var n2 = r.ReadTensor("bn1.num_batches_tracked");
        using var s2 = r.ReadTensor("s");
        using var e2 = r.ReadTensor("empty");
        Assert.Equal(a.Shape, a2.Shape);
        Assert.Equal(a.ToArray<float>(), a2.ToArray<float>());
        Assert.Equal(b.ToArray<double>(), b2.ToArray<double>());
        Assert.Equal(c.ToArray<int>(), c2.ToArray<int>());
        Assert.Equal(DType.Int32, n2.DType);
        Assert.Equal(new Shape(), n2.Shape);
        Assert.Equal(42, n2.ToArray<int>()[0]);
        Assert.Equal(1.5f, s2.ToArray<float>()[0]);
        Assert.Equal(new Shape(0, 4), e2.Shape);
    }

    [Fact]
    public void HeaderIsPaddedWithSpacesToEightBytesAndTensorsAreAlignedToTheirSize()
    {
        using var dir = new TempFolder();
        string path = dir.File("align.safetensors");
        // Names of lengths 1..9 make the raw JSON length vary, so several paddings are exercised.
        for (int len = 1; len <= 9; len++)
        {
            using var odd = Random32(new Shape(3), 3);
            using var wide = Random64(new Shape(2), 4);
            SafetensorsWriter.Write(path, [(new string('x', len), odd), ("w", wide)]);
            byte[] bytes = File.ReadAllBytes(path);
            long n = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
            Assert.Equal(0, (8 + n) % 8);
            string header = Encoding.UTF8.GetString(bytes, 8, (int)n);
            string trimmed = header.TrimEnd(' ');
            Assert.True(header.Length - trimmed.Length < 8);
            Assert.EndsWith("}", trimmed);
            using var doc = JsonDocument.Parse(trimmed);
            var w = doc.RootElement.GetProperty("w").GetProperty("data_offsets");
            var x = doc.RootElement.GetProperty(new string('x', len)).GetProperty("data_offsets");
            Assert.Equal(0, w[0].GetInt64());        // the 8-byte type comes first
            Assert.Equal(16, x[0].GetInt64());
            Assert.Equal(8 + n + 16 + 12, bytes.Length);
        }
    }

    [Fact]
    public void WriteReplacesAnExistingFileAndAFailedWriteLeavesTheOldFileIntact()
    {
        using var dir = new TempFolder();
        string path = dir.File("w.safetensors");
        using var good = Random32(new Shape(4), 5);
        SafetensorsWriter.Write(path, [("a", good)]);
        byte[] before = File.ReadAllBytes(path);

        var broken = Random32(new Shape(1000), 6);
        broken.Dispose(); // reading its data throws in the middle of the write
        Assert.Throws<ObjectDisposedException>(() => SafetensorsWriter.Write(path, [("a", good), ("b", broken)]));
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Single(Directory.GetFiles(dir.Path)); // no temporary file left behind

        using var other = Random32(new Shape(2, 2), 7);
        SafetensorsWriter.Write(path, [("c", other)]);
        using var r = new SafetensorsReader(path);
        Assert.Equal(["c"], r.Entries.Select(e => e.Name));
    }

    [Fact]
    public void RejectsDuplicateNames()
    {
        using var dir = new TempFolder();
        using var t = Random32(new Shape(2), 8);
        Assert.Throws<ArgumentException>(() => SafetensorsWriter.Write(dir.File("d.safetensors"), [("a", t), ("a", t)]));
    }

    private static byte[] RawFile(string json, int dataBytes)
    {
        byte[] h = Encoding.UTF8.GetBytes(json);
        var bytes = new byte[8 + h.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)h.Length);
        h.CopyTo(bytes, 8);
        return bytes;
    }

    [Theory]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4, "data section has 4")]  // truncated data
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 12, "cover 8 bytes")]      // trailing bytes
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, "needs 12 bytes")]      // shape vs size
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, "hole or overlap")]
    [InlineData("{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}", 2, "U8")]
    [InlineData("[1,2]", 0, "JSON object")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]", 8, "not valid JSON")]
    public void RejectsMalformedFilesWithAClearMessage(string json, int dataBytes, string expected)
    {
        using var dir = new TempFolder();
        string path = dir.File("bad.safetensors");
        byte[] bytes = RawFile(json, dataBytes);
        File.WriteAllBytes(path, bytes);
        var e = Assert.ThrowsAny<IOException>(() =>
        {
            using var r = new SafetensorsReader(path);
            foreach (var entry in r.Entries) r.ReadTensor(entry.Name).Dispose();
        });
        Assert.Contains(expected, e.Message);
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void RejectsAHeaderLengthLargerThanTheFile()
    {
        using var dir = new TempFolder();
        string path = dir.File("len.safetensors");
        var bytes = new byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, 1000);
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<SafetensorsFormatException>(() => new SafetensorsReader(path).Dispose());
        Assert.Contains("header length 1000", e.Message);
    }

    [Fact]
    public void Int64ValuesThatDoNotFitInt32AreRefused()
    {
        using var dir = new TempFolder();
        string path = dir.File("big.safetensors");
        var bytes = RawFile("{\"n\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[0,8]}}", 8);
        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(bytes.Length - 8), 1L << 40);
        File.WriteAllBytes(path, bytes);
        using var r = new SafetensorsReader(path);
        var e = Assert.Throws<SafetensorsFormatException>(() => r.ReadTensor("n"));
        Assert.Contains("1099511627776", e.Message);
    }

    [SkippableFact]
    [Trait("Reference", "PyTorch")]
    public void ReadsAFileWrittenByPyTorch()
    {
        PythonReference.SkipUnlessTorch();
        using var dir = new TempFolder();
        string path = dir.File("torch.safetensors");
        PythonReference.RunScript("safetensors_reference.py", "write", path);
        using var r = new SafetensorsReader(path);
        Assert.Equal("pt", r.Metadata["format"]);

        using var conv = r.ReadTensor("conv.weight");
        Assert.Equal(new Shape(2, 3, 5, 7), conv.Shape);
        var cv = conv.ToArray<float>();
        for (int i = 0; i < cv.Length; i++) Assert.Equal((float)Formula(i), cv[i], 6);

        using var head = r.ReadTensor("head.weight64");
        Assert.Equal(DType.Float64, head.DType);
        var hv = head.ToArray<double>();
        for (int i = 0; i < hv.Length; i++) Assert.Equal(Formula(i), hv[i], 12);

        using var half = r.ReadTensor("half");
        Assert.Equal(DType.Float32, half.DType);
        var fv = half.ToArray<float>();
        for (int i = 0; i < fv.Length; i++) Assert.Equal((float)(Half)Formula(i), fv[i]);

        using var bf = r.ReadTensor("brain");
        var bv = bf.ToArray<float>();
        for (int i = 0; i < bv.Length; i++) Assert.Equal(Formula(i), bv[i], 1); // bfloat16 keeps ~3 digits
        for (int i = 0; i < bv.Length; i++) Assert.True(Math.Abs(Formula(i) - bv[i]) <= Math.Abs(Formula(i)) / 128 + 1e-12);

        using var n = r.ReadTensor("bn.num_batches_tracked");
        Assert.Equal(DType.Int32, n.DType);
        Assert.Equal(12345, n.ToArray<int>()[0]);
        using var labels = r.ReadTensor("labels");
        Assert.Equal([-3, -2, -1, 0, 1, 2, 3], labels.ToArray<int>());
        using var scalar = r.ReadTensor("scalar");
        Assert.Equal(new Shape(), scalar.Shape);
        Assert.Equal(2.5f, scalar.ToArray<float>()[0]);

        // Floating entries also convert into a tensor of the other floating type.
        using var asDouble = r.ReadTensor("conv.weight", DType.Float64);
        Assert.Equal(cv.Select(v => (double)v), asDouble.ToArray<double>());
    }

    [SkippableFact]
    [Trait("Reference", "PyTorch")]
    public void AFileWeWriteLoadsInPyTorch()
    {
        PythonReference.SkipUnlessTorch();
        using var dir = new TempFolder();
        string path = dir.File("ours.safetensors");
        using var a = Random32(new Shape(3, 5, 7), 9);
        using var b = Random64(new Shape(2, 3), 10);
        using var c = Tensor.FromArray<int>([5, -6, 7], new Shape(3));
        using var counter = Tensor.FromArray<int>([123456], new Shape());
        SafetensorsWriter.Write(path, [("layer1.0.conv1.weight", a), ("b", b), ("ints", c), ("bn1.num_batches_tracked", counter)],
            new Dictionary<string, string> { ["format"] = "pt" });

        using var doc = JsonDocument.Parse(PythonReference.RunScript("safetensors_reference.py", "check", path));
        Assert.Equal("pt", doc.RootElement.GetProperty("metadata").GetProperty("format").GetString());
        var tensors = doc.RootElement.GetProperty("tensors");
        void Check(string name, string dtype, Shape shape, double[] values)
        {
            var t = tensors.GetProperty(name);
            Assert.Equal(dtype, t.GetProperty("dtype").GetString());
            Assert.Equal(shape.ToArray(), t.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()));
            double sum = 0, weighted = 0;
            for (int i = 0; i < values.Length; i++) { sum += values[i]; weighted += values[i] * (i + 1); }
            Assert.Equal(sum, t.GetProperty("sum").GetDouble(), 1e-9);
            Assert.Equal(weighted, t.GetProperty("weighted").GetDouble(), 1e-8);
        }
        Check("layer1.0.conv1.weight", "float32", a.Shape, a.ToArray<float>().Select(v => (double)v).ToArray());
        Check("b", "float64", b.Shape, b.ToArray<double>());
        Check("ints", "int32", c.Shape, [5, -6, 7]);
        Check("bn1.num_batches_tracked", "int64", new Shape(), [123456]);
    }
}
