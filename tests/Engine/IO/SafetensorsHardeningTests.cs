using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using Vicreg.Engine;
using Vicreg.Engine.IO;
using Vicreg.Engine.Nn;

namespace Vicreg.Tests.Engine.IO;

/// <summary>Hostile safetensors files (generated here) give one format error; large tensors, checksums, stale
/// temporaries and non-finite weights behave as the README's "Limits and failure behavior" says.</summary>
public class SafetensorsHardeningTests
{
    private static byte[] RawFile(byte[] header, long dataBytes)
    {
        var bytes = new byte[8 + header.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)header.Length);
        header.CopyTo(bytes, 8);
        for (long i = 8 + header.Length; i < bytes.Length; i++) bytes[i] = (byte)(i * 37 + 11);
        return bytes;
    }

    private static SafetensorsFormatException Refused(TempFolder dir, byte[] bytes)
    {
        string path = dir.File("hostile.safetensors");
        File.WriteAllBytes(path, bytes);
        return Assert.Throws<SafetensorsFormatException>(() =>
        {
            using var r = new SafetensorsReader(path);
            foreach (var e in r.Entries) r.ReadTensor(e.Name).Dispose();
        });
    }

    [Theory]
    [InlineData(new byte[] { 0xff })]              // never valid in UTF-8
    [InlineData(new byte[] { 0xc3, 0x28 })]        // a lead byte followed by a non-continuation
    [InlineData(new byte[] { 0xed, 0xa0, 0x80 })]  // an encoded surrogate
    public void InvalidUtf8InANameOrAMetadataValueIsAFormatError(byte[] invalid)
    {
        using var dir = new TempFolder();
        byte[] Header(string before, string after) => [.. Encoding.UTF8.GetBytes(before), .. invalid, .. Encoding.UTF8.GetBytes(after)];
        var inName = Header("{\"z", "\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}");
        Assert.Contains("not valid UTF-8", Refused(dir, RawFile(inName, 8)).Message);
        var inMetadata = Header("{\"__metadata__\":{\"k\":\"", "\"},\"z\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}");
        Assert.Contains("not valid UTF-8", Refused(dir, RawFile(inMetadata, 8)).Message);
    }

    [Fact]
    public void AnEscapedLoneSurrogateIsAFormatError()
    {
        using var dir = new TempFolder();
        var header = Encoding.UTF8.GetBytes("{\"z\\udc00\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}");
        Assert.Contains("not valid Unicode", Refused(dir, RawFile(header, 8)).Message);
    }

    [Theory]
    [InlineData("F64", "[1824726041, 1263665316]", 32)]              // numel fits a long, numel * 8 wraps to 32
    [InlineData("F32", "[2147483647, 2147483647, 2147483647]", 8)]   // numel itself overflows
    [InlineData("F16", "[2147483647, 2147483647, 2147483647, 0]", 0)] // the zero comes too late to save the product
    public void AShapeWhoseByteCountOverflowsIsRefused(string dtype, string shape, int dataBytes)
    {
        using var dir = new TempFolder();
        var header = Encoding.UTF8.GetBytes($"{{\"z\":{{\"dtype\":\"{dtype}\",\"shape\":{shape},\"data_offsets\":[0,{dataBytes}]}}}}");
        Assert.Contains("larger than any file can hold", Refused(dir, RawFile(header, dataBytes)).Message);
    }

    [Fact]
    public void ChecksumIsWrittenOnRequestAndAnyFlippedDataByteIsRefused()
    {
        using var dir = new TempFolder();
        string path = dir.File("c.safetensors");
        var rng = new Rng(3);
        var values = Enumerable.Range(0, 37).Select(_ => (float)rng.NextNormal()).ToArray();
        using var t = Tensor.FromArray<float>(values, new Shape(37));
        using var n = Tensor.FromArray<int>([12345], new Shape());
        SafetensorsWriter.Write(path, [("t", t), ("x.num_batches_tracked", n)], new Dictionary<string, string> { ["k"] = "v" }, checksum: true);
        using (var r = new SafetensorsReader(path))
        {
            r.VerifyChecksum();
            Assert.Equal(64, r.Metadata[SafetensorsHeader.ChecksumKey].Length);
            Assert.Equal("v", r.Metadata["k"]);
            Assert.Equal(values, r.ReadTensor("t").ToArray<float>());
        }
        byte[] good = File.ReadAllBytes(path);
        long dataStart = 8 + (long)BinaryPrimitives.ReadUInt64LittleEndian(good);
        for (long at = dataStart; at < good.Length; at += 13)
        {
            var bad = (byte[])good.Clone();
            bad[at] ^= (byte)(1 << (int)(at % 8));
            File.WriteAllBytes(path, bad);
            using var r = new SafetensorsReader(path);
            var e = Assert.Throws<SafetensorsFormatException>(r.VerifyChecksum);
            Assert.Contains("does not match its checksum", e.Message);
        }
        SafetensorsWriter.Write(path, [("t", t)]);
        using var plain = new SafetensorsReader(path);
        Assert.Contains("has no data checksum", Assert.Throws<SafetensorsFormatException>(plain.VerifyChecksum).Message);
    }

    private static long AvailableMemory()
    {
        foreach (var line in File.ReadLines("/proc/meminfo"))
            if (line.StartsWith("MemAvailable:", StringComparison.Ordinal))
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
        return 0;
    }

    /// <summary>A float32 tensor of 2 GiB + 8 bytes in a sparse file: values placed at its start, on both sides
    /// of the 2 GiB boundary (where a span would end) and at its end must all arrive.</summary>
    [SkippableFact]
    public unsafe void ATensorAboveTwoGibibytesIsRead()
    {
        Skip.IfNot(OperatingSystem.IsLinux() && AvailableMemory() > 6L << 30, "skipped: needs 6 GiB of available memory");
        using var dir = new TempFolder();
        string path = dir.File("big.safetensors");
        const long count = (1L << 29) + 2;
        var header = Encoding.UTF8.GetBytes($"{{\"big\":{{\"dtype\":\"F32\",\"shape\":[{count}],\"data_offsets\":[0,{count * 4}]}}}}    ");
        long[] marked = [0, 1, (1L << 29) - 1, 1L << 29, count - 1];
        using (var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write))
        {
            Span<byte> prefix = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
            file.Write(prefix);
            file.Write(header);
            file.SetLength(8 + header.Length + count * 4); // sparse: the unmarked values read as zeros
            foreach (long i in marked)
            {
                file.Position = 8 + header.Length + i * 4;
                file.Write(BitConverter.GetBytes(1.5f + i));
            }
        }
        using var r = new SafetensorsReader(path);
        using var t = r.ReadTensor("big");
        Assert.Equal(count * 4, t.Bytes);
        float* p = (float*)t.Data;
        foreach (long i in marked) Assert.Equal(1.5f + i, p[i]);
        Assert.Equal(0f, p[count / 2 + 3]);
    }

    [Fact]
    public void TemporariesOfDeadWritersAreRemovedAndThoseOfLiveOnesKept()
    {
        using var dir = new TempFolder();
        using var finished = Process.Start(new ProcessStartInfo("true") { UseShellExecute = false })!;
        finished.WaitForExit();
        int deadPid = finished.Id;
        string dead = SafetensorsWriter.TemporaryName("checkpoint.safetensors", deadPid, Guid.NewGuid());
        string live = SafetensorsWriter.TemporaryName("checkpoint.safetensors", Environment.ProcessId, Guid.NewGuid());
        string[] unrelated = [".notes.tmp", ".a.12.zz.tmp", "checkpoint.safetensors", ".vicreg.lock"];
        foreach (var name in unrelated.Append(dead).Append(live)) File.WriteAllText(dir.File(name), "x");

        var removed = SafetensorsWriter.RemoveStaleTemporaries(dir.Path);
        Assert.Equal([dead], removed);
        Assert.False(File.Exists(dir.File(dead)));
        Assert.True(File.Exists(dir.File(live)));
        foreach (var name in unrelated) Assert.True(File.Exists(dir.File(name)), name);
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    public void NonFiniteWeightsAreRefusedAtLoadNamingTheTensor(float bad)
    {
        using var dir = new TempFolder();
        string path = dir.File("w.safetensors");
        var rng = new Rng(9);
        var source = new Linear(5, 3, bias: true, ref rng);
        var weight = source.StateDict().First(p => p.Name == "weight").Tensor;
        var values = weight.ToArray<float>();
        values[7] = bad;
        weight.CopyFrom<float>(values);
        StateDictFile.Save(source, path);

        var target = new Linear(5, 3, bias: true, ref rng);
        var e = Assert.Throws<NonFiniteValuesException>(() => StateDictFile.Load(target, path));
        Assert.Contains("'weight' holds 1 non-finite value", e.Message);
        Assert.Contains(path, e.Message);
    }
}
