using System.Diagnostics;
using Vicreg.Engine;
using Vicreg.Engine.IO;
using Vicreg.Engine.IO.Pytorch;
using static Vicreg.Tests.Engine.IO.TestPickles;

namespace Vicreg.Tests.Engine.IO;

public class PytorchFuzzTests
{
    /// <summary>
    /// Mutated .pth files (bytes flipped, inserted, deleted, or the file cut short; in the whole file or in
    /// the pickle alone, re-wrapped in a sound container) are either read or refused with a
    /// <see cref="WeightsFormatException"/>: no other exception escapes, and nothing hangs.
    /// </summary>
    [Fact]
    public void MutatedFilesAreReadOrRefusedWithOneFormatError()
    {
        using var dir = new TempFolder();
        var values = Enumerable.Range(0, 12).Select(i => i * 0.25f - 1).ToArray();
        byte[] Pickle(bool legacy) => Dict(
            ("t", RebuildTensor(Storage("0", 12, legacy: legacy), 0, [4, 3], [1, 4])),
            ("v", RebuildTensor(Storage("0", 12, legacy: legacy), 5, [2, 2], [4, 2])),
            ("n", RebuildTensor(Storage("1", 1, "LongStorage", legacy), 0, [], [])),
            ("h", RebuildTensor(Storage("2", 3, "HalfStorage", legacy), 0, [3], [1])));
        var storages = new (string Key, long Numel, byte[] Data)[]
        {
            ("0", 12, Floats(values)), ("1", 1, BitConverter.GetBytes(7L)), ("2", 3, [0, 0x3c, 0, 0x40, 0, 0xc0]),
        };
        Zip(dir.File("seed-zip.pth"), Pickle(false), storages.Select(s => (s.Key, s.Data)).ToArray());
        TestPickles.Legacy(dir.File("seed-legacy.pth"), Pickle(true), storages);
        var seeds = new[] { File.ReadAllBytes(dir.File("seed-zip.pth")), File.ReadAllBytes(dir.File("seed-legacy.pth")) };
        Assert.Equal(2, Outcome(dir.File("seed-zip.pth")) + Outcome(dir.File("seed-legacy.pth"))); // the seeds themselves read

        var rng = new Random(20261129);
        var clock = Stopwatch.StartNew();
        int read = 0, refused = 0;
        string path = dir.File("mutant.pth");
        for (int i = 0; i < 4000 && clock.Elapsed < TimeSpan.FromSeconds(15); i++)
        {
            int kind = rng.Next(3);
            if (kind == 2)
            {
                // The pickle alone, in a sound zip: reaches the unpickler's every branch rather than the container's checks.
                Zip(path, Mutate(Pickle(false), rng), storages.Select(s => (s.Key, s.Data)).ToArray());
            }
            else
            {
                File.WriteAllBytes(path, Mutate(seeds[kind], rng));
            }
            if (Outcome(path) == 1) read++; else refused++;
        }
        Assert.True(refused > 0 && read > 0, $"the mutations should both break and spare files ({read} read, {refused} refused)");
    }

    /// <summary>1 when the file reads (every tensor), 0 when it is refused as a bad weights file.</summary>
    private static int Outcome(string path)
    {
        try
        {
            using var file = WeightsFile.Open(path);
            using var scope = TensorScope.Begin();
            foreach (var t in file.Tensors) file.ReadTensor(t.Name);
            return 1;
        }
        catch (WeightsFormatException e)
        {
            Assert.DoesNotContain('\n', e.Message);
            return 0;
        }
    }

    private static byte[] Mutate(byte[] seed, Random rng)
    {
        var b = new List<byte>(seed);
        int edits = 1 + rng.Next(4);
        for (int e = 0; e < edits && b.Count > 0; e++)
        {
            int at = rng.Next(b.Count);
            switch (rng.Next(5))
            {
                case 0: b[at] = (byte)rng.Next(256); break;
                case 1: b[at] ^= (byte)(1 << rng.Next(8)); break;
                case 2: b.Insert(at, (byte)rng.Next(256)); break;
                case 3: b.RemoveAt(at); break;
                default: b.RemoveRange(at, b.Count - at); break;
            }
        }
        return [.. b];
    }
}
