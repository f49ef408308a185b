using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using Vicreg.Commands;
using Vicreg.Engine;
using Vicreg.Engine.Backends.Cpu;
using Vicreg.Engine.IO;
using Vicreg.Tests.Engine.IO;
using Vicreg.Training;
using Xunit.Abstractions;

namespace Vicreg.Tests.App.Training;

/// <summary>
/// Mutated safetensors files and checkpoints (fixed seed): bit flips in the header and anywhere, truncations,
/// other header lengths, and JSON values swapped for values of another type. Reading each one either works
/// or ends in the one-line error the commands print (a <see cref="UsageException"/> out of
/// <see cref="CommandErrors.Guard"/>, exit code 2); nothing else escapes. Memory is measured per file and
/// must stay within what the file's own size justifies.
/// </summary>
public class FileFuzzTests(ITestOutputHelper log)
{
    private const int MutationsPerFile = 300;

    /// <summary>
    /// Native memory: every tensor's bytes are covered by the file's data section, a read widens at most 2x
    /// (F16/BF16 to float32), and the allocator rounds up by at most 12.5% or to 512 bytes: 2.25 L + 512.
    /// Managed memory: a 1 MiB checksum buffer, a 512 KiB conversion chunk, plus the parsed header, whose
    /// strings, lists and dictionaries take a small multiple of the header's bytes (bounded at 32x the whole
    /// file). Measured here: at most 1.58 MB per file, nearly all of it the two fixed buffers.
    /// </summary>
    private static long NativeBound(long fileLength) => fileLength * 9 / 4 + 512;
    private static long ManagedBound(long fileLength) => (3L << 20) / 2 + 64 * 1024 + 32 * fileLength;

    private readonly record struct Outcome(bool Accepted, long NativePeak, long ManagedBytes);

    [Fact]
    public void MutatedSafetensorsFilesAndCheckpointsGiveOneLineErrorsInBoundedMemory()
    {
        var clock = Stopwatch.StartNew();
        using var dir = new TempFolder();
        var random = new Random(20261129);

        // A plain file with every type this program writes, and a checkpoint of a tiny model.
        string plainPath = dir.File("plain.safetensors");
        using (var scope = TensorScope.Begin())
        {
            var rng = new Rng(5);
            Tensor Floats(Shape s) => Tensor.FromArray<float>(Enumerable.Range(0, (int)s.Numel).Select(_ => (float)rng.NextNormal()).ToArray(), s);
            SafetensorsWriter.Write(plainPath,
                [("a", Floats(new Shape(3, 5))), ("b", Tensor.FromArray<double>([1.5, -2.25, 3], new Shape(3))),
                 ("n.num_batches_tracked", Tensor.FromArray<int>([77], new Shape())), ("i", Tensor.FromArray<int>([4, -5], new Shape(2)))],
                new Dictionary<string, string> { ["format"] = "pt", ["note"] = "fuzz" }, checksum: true);
        }
        string checkpointPath = CheckpointTests.Saved(dir);
        var (model, optimizer) = CheckpointTests.Fresh(2);
        var settings = Checkpoint.Settings(new PretrainOptions { Width = 0.0625, Mlp = "16-16", Epochs = 3, BatchSize = 24, Limit = 96 }, 1, "cifar", 96);

        int accepted = 0, refused = 0;
        long worstNative = 0, worstManaged = 0;
        foreach (var (source, load) in new (string, Action<string>)[]
        {
            (plainPath, ReadEverything),
            (checkpointPath, path => Checkpoint.Load(path, model, optimizer, settings, stepsPerEpoch: 4)),
        })
        {
            byte[] original = File.ReadAllBytes(source);
            string target = dir.File("mutated.safetensors");
            for (int m = 0; m < MutationsPerFile; m++)
            {
                var (bytes, what) = Mutate(original, random);
                File.WriteAllBytes(target, bytes);
                var outcome = Attempt(target, load, what);
                if (outcome.Accepted) accepted++; else refused++;
                Assert.True(outcome.NativePeak <= NativeBound(bytes.Length), $"{what}: {outcome.NativePeak} native bytes for a file of {bytes.Length}");
                Assert.True(outcome.ManagedBytes <= ManagedBound(bytes.Length), $"{what}: {outcome.ManagedBytes} managed bytes for a file of {bytes.Length}");
                worstNative = Math.Max(worstNative, outcome.NativePeak);
                worstManaged = Math.Max(worstManaged, outcome.ManagedBytes);
            }
        }
        log.WriteLine($"{accepted} accepted, {refused} refused in {clock.Elapsed.TotalSeconds:F1} s; worst native {worstNative} bytes, worst managed {worstManaged} bytes");
        Assert.True(refused > accepted, $"only {refused} of {accepted + refused} mutations were refused");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"took {clock.Elapsed}");
    }

    /// <summary>What `loss-grad` and `embed` do to an input: open it, read every tensor (noting the native memory
    /// each one holds); and the checksum, if present.</summary>
    private static void ReadEverything(string path)
    {
        using var reader = new SafetensorsReader(path);
        foreach (var entry in reader.Entries)
        {
            using var tensor = reader.ReadTensor(entry.Name, CpuBackend.Instance);
            NoteNativeMemory();
        }
        if (reader.Metadata.ContainsKey(SafetensorsHeader.ChecksumKey)) reader.VerifyChecksum();
    }

    private static long _nativeBaseline, _nativePeak;

    private static void NoteNativeMemory() =>
        _nativePeak = Math.Max(_nativePeak, CpuBackend.Instance.MemoryStatistics.BytesInUse - _nativeBaseline);

    private static Outcome Attempt(string path, Action<string> load, string what)
    {
        _nativeBaseline = CpuBackend.Instance.MemoryStatistics.BytesInUse;
        _nativePeak = 0;
        long managedBefore = GC.GetAllocatedBytesForCurrentThread();
        bool accepted;
        try
        {
            CommandErrors.Guard(() => { load(path); return 0; });
            accepted = true;
        }
        catch (UsageException e)
        {
            Assert.False(e.Message.Contains('\n'), $"{what}: the error is not one line: {e.Message}");
            accepted = false;
        }
        catch (Exception e)
        {
            Assert.Fail($"{what}: {e.GetType().Name} escaped: {e.Message}");
            throw;
        }
        NoteNativeMemory();
        return new Outcome(accepted, _nativePeak, GC.GetAllocatedBytesForCurrentThread() - managedBefore);
    }

    private static (byte[] Bytes, string What) Mutate(byte[] original, Random random)
    {
        int headerLength = (int)BinaryPrimitives.ReadUInt64LittleEndian(original);
        var bytes = (byte[])original.Clone();
        switch (random.Next(6))
        {
            case 0: // bit flips inside the header
            case 1:
            {
                int flips = 1 + random.Next(4);
                var at = new List<int>();
                for (int i = 0; i < flips; i++)
                {
                    int p = 8 + random.Next(headerLength);
                    bytes[p] ^= (byte)(1 << random.Next(8));
                    at.Add(p);
                }
                return (bytes, $"header bit flips at {string.Join(",", at)}");
            }
            case 2: // bit flip anywhere, data included
            {
                int p = random.Next(bytes.Length);
                bytes[p] ^= (byte)(1 << random.Next(8));
                return (bytes, $"bit flip at {p}");
            }
            case 3: // truncation
            {
                int length = random.Next(bytes.Length);
                return (bytes[..length], $"truncated to {length}");
            }
            case 4: // another header length
            {
                ulong[] lengths = [0, 1, 2, (ulong)headerLength - 1, (ulong)headerLength + 1, (ulong)bytes.Length, 100_000_001, ulong.MaxValue, 1UL << 63];
                ulong length = lengths[random.Next(lengths.Length)];
                BinaryPrimitives.WriteUInt64LittleEndian(bytes, length);
                return (bytes, $"header length {length}");
            }
            default: // a JSON value swapped for one of another type
                return SwapValue(original, headerLength, random);
        }
    }

    private static readonly Func<JsonNode?>[] Replacements =
    [
        () => JsonValue.Create("x"), () => JsonValue.Create(""), () => JsonValue.Create(7), () => JsonValue.Create(-1),
        () => JsonValue.Create(long.MaxValue), () => JsonValue.Create(1e300), () => JsonValue.Create(2.5), () => JsonValue.Create(true),
        () => null, () => new JsonArray(), () => new JsonArray(JsonValue.Create("3")), () => new JsonArray(2147483647, 2147483647),
        () => new JsonObject(), () => new JsonObject { ["dtype"] = "F32" }, () => JsonValue.Create("99999"), () => JsonValue.Create("F64"),
    ];

    private static (byte[] Bytes, string What) SwapValue(byte[] original, int headerLength, Random random)
    {
        var root = JsonNode.Parse(Encoding.UTF8.GetString(original, 8, headerLength).TrimEnd(' '))!.AsObject();
        // Every value in the header, at any depth, with a way to replace it.
        var slots = new List<(string Path, Action<JsonNode?> Set)>();
        void Collect(JsonNode node, string path)
        {
            if (node is JsonObject o)
                foreach (var (key, child) in o.ToList())
                {
                    slots.Add(($"{path}.{key}", v => o[key] = v));
                    if (child is not null) Collect(child, $"{path}.{key}");
                }
            else if (node is JsonArray a)
                for (int i = 0; i < a.Count; i++)
                {
                    int index = i;
                    slots.Add(($"{path}[{i}]", v => a[index] = v));
                    if (a[i] is { } child) Collect(child, $"{path}[{i}]");
                }
        }
        Collect(root, "");
        var (where, set) = slots[random.Next(slots.Count)];
        var replacement = Replacements[random.Next(Replacements.Length)]();
        string shown = replacement?.ToJsonString() ?? "null";
        set(replacement);
        byte[] header = Encoding.UTF8.GetBytes(root.ToJsonString());
        var bytes = new byte[8 + header.Length + (original.Length - 8 - headerLength)];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)header.Length);
        header.CopyTo(bytes, 8);
        original.AsSpan(8 + headerLength).CopyTo(bytes.AsSpan(8 + header.Length));
        return (bytes, $"{where} = {shown}");
    }
}
