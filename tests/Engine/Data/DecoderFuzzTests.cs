using System.Buffers.Binary;
using System.Diagnostics;
using Vicreg.Engine;
using Vicreg.Engine.Data;
using Vicreg.Engine.Data.Datasets;
using Vicreg.Engine.Data.Decoding;
using Vicreg.Engine.Data.Transforms;

namespace Vicreg.Tests.Engine.Data;

/// <summary>
/// Mutated PNGs, JPEGs and IDX files (fixed seed) through the decoders, an image folder read by the loader, and
/// the IDX reader: nothing escapes but the one-line errors (<see cref="ImageDecodeException"/>,
/// <see cref="DatasetException"/>) and counted skips, and the peak memory stays within what the pixel limit allows.
/// </summary>
public class DecoderFuzzTests
{
    /// <summary>A low limit, so that mutated sizes often exceed it and the memory bound is tight.</summary>
    private const long MaxPixels = 1 << 22;

    private static byte[] Png(ref Rng rng, int colorType, int depth, bool interlace)
    {
        int w = 1 + rng.NextInt(40), h = 1 + rng.NextInt(40);
        int spp = TestPngWriter.SamplesPerPixel(colorType);
        int levels = colorType == 3 ? 8 : 1 << depth;
        var samples = new int[w * h * spp];
        for (int i = 0; i < samples.Length; i++) samples[i] = rng.NextInt(levels);
        byte[]? palette = colorType == 3 ? TestImages.Noise(24, rng.NextUInt64()) : null;
        return TestPngWriter.Encode(samples, w, h, depth, colorType, palette, interlace);
    }

    private static byte[] Jpeg(ref Rng rng, int channels, bool progressive)
    {
        int w = 1 + rng.NextInt(48), h = 1 + rng.NextInt(48);
        return JpegEncoder.Encode(TestImages.Smooth(w, h, channels, rng.NextUInt64()), w, h, channels, 50 + rng.NextInt(50), progressive, subsample420: rng.Bernoulli(0.5));
    }

    /// <summary>A size as a fuzzer would pick it: small, plausible, large or absurd.</summary>
    private static int Dimension(ref Rng rng, int max) => rng.NextInt(4) switch
    {
        0 => 1 + rng.NextInt(64),
        1 => 1 + rng.NextInt(Math.Min(max, 1 << 12)),
        2 => 1 + rng.NextInt(Math.Min(max, 1 << 16)),
        _ => max,
    };

    private static byte[] Mutate(byte[] original, ref Rng rng, Action<byte[], Rng>? resize)
    {
        var data = (byte[])original.Clone();
        switch (rng.NextInt(4))
        {
            case 0: // flip a few bytes
                for (int k = 1 + rng.NextInt(8); k > 0; k--) data[rng.NextInt(data.Length)] ^= (byte)(1 + rng.NextInt(255));
                break;
            case 1: // truncate
                data = data.AsSpan(0, rng.NextInt(data.Length)).ToArray();
                break;
            case 2: // a large number anywhere
                int at = rng.NextInt(Math.Max(1, data.Length - 4));
                if (at + 4 <= data.Length) BinaryPrimitives.WriteInt32BigEndian(data.AsSpan(at), rng.NextInt(int.MaxValue));
                break;
            default: // another size in the header (with a valid checksum), the rest intact
                resize?.Invoke(data, rng);
                break;
        }
        return data;
    }

    private static void ResizePng(byte[] png, Rng rng)
    {
        BinaryPrimitives.WriteInt32BigEndian(png.AsSpan(16), Dimension(ref rng, int.MaxValue));
        BinaryPrimitives.WriteInt32BigEndian(png.AsSpan(20), Dimension(ref rng, int.MaxValue));
        BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan(29), TestPngWriter.Crc(png.AsSpan(12, 17)));
    }

    private static void ResizeJpeg(byte[] jpeg, Rng rng)
    {
        for (int i = 2; i + 9 < jpeg.Length; i++)
            if (jpeg[i] == 0xFF && jpeg[i + 1] is 0xC0 or 0xC2)
            {
                BinaryPrimitives.WriteUInt16BigEndian(jpeg.AsSpan(i + 5), (ushort)Dimension(ref rng, 65535));
                BinaryPrimitives.WriteUInt16BigEndian(jpeg.AsSpan(i + 7), (ushort)Dimension(ref rng, 65535));
                return;
            }
    }

    private static List<(string Name, byte[] Data)> Images(ref Rng rng, int pngs, int jpegs)
    {
        var files = new List<(string, byte[])>();
        (int ColorType, int Depth)[] pngKinds = [(0, 1), (0, 4), (0, 8), (0, 16), (2, 8), (2, 16), (3, 2), (3, 8), (4, 8), (6, 16)];
        for (int i = 0; i < pngs; i++)
        {
            var (ct, depth) = pngKinds[i % pngKinds.Length];
            files.Add(($"p{i:D3}.png", Mutate(Png(ref rng, ct, depth, rng.Bernoulli(0.3)), ref rng, ResizePng)));
        }
        for (int i = 0; i < jpegs; i++)
            files.Add(($"j{i:D3}.jpg", Mutate(Jpeg(ref rng, rng.Bernoulli(0.3) ? 1 : 3, rng.Bernoulli(0.5)), ref rng, ResizeJpeg)));
        return files;
    }

    /// <summary>An IDX pair, intact or with its images file mutated: magic, count, rows or cols set to anything, or bytes flipped, or cut.</summary>
    private static (byte[] Images, byte[] Labels) IdxPair(ref Rng rng)
    {
        int n = 1 + rng.NextInt(20), rows = 1 + rng.NextInt(30), cols = 1 + rng.NextInt(30);
        var images = DatasetTests.Idx(2051, [n, rows, cols], TestImages.Noise(n * rows * cols, rng.NextUInt64()));
        var labels = DatasetTests.Idx(2049, [n], TestImages.Noise(n, rng.NextUInt64()).Select(b => (byte)(b % 10)).ToArray());
        switch (rng.NextInt(3))
        {
            case 0: // intact
                break;
            case 1:
                BinaryPrimitives.WriteInt32BigEndian(images.AsSpan(4 * rng.NextInt(4)), rng.NextInt(3) switch
                {
                    0 => rng.NextInt(int.MaxValue),
                    1 => -rng.NextInt(int.MaxValue),
                    _ => Dimension(ref rng, int.MaxValue),
                });
                break;
            default:
                images = Mutate(images, ref rng, null);
                break;
        }
        return (rng.Bernoulli(0.5) ? DatasetTests.Gzip(images) : images, rng.Bernoulli(0.5) ? DatasetTests.Gzip(labels) : labels);
    }

    [SkippableFact]
    public void MutatedFilesGiveOneLineErrorsOrCountedSkipsWithinBoundedMemory()
    {
        Skip.IfNot(PeakMemory.Available, "/proc/self/clear_refs is not available");
        var clock = Stopwatch.StartNew();
        var rng = new Rng(20261129);
        var images = Images(ref rng, pngs: 160, jpegs: 160);
        var idx = Enumerable.Range(0, 120).Select(_ => IdxPair(ref rng)).ToList();
        string root = TestImages.TempFolder("fuzz");
        try
        {
            Directory.CreateDirectory(Path.Combine(root, "c"));
            foreach (var (name, data) in images) File.WriteAllBytes(Path.Combine(root, "c", name), data);
            int decoded = 0, refused = 0, overLimit = 0, idxLoaded = 0, idxRefused = 0;
            long skipped = 0;
            var warnings = new StringWriter();
            long growth = PeakMemory.Growth(() =>
            {
                var image = new ImageBuffer();
                foreach (var (name, data) in images)
                {
                    try
                    {
                        ImageDecoder.Decode(data, image, 3, maxPixels: MaxPixels);
                        decoded++;
                        Assert.InRange((long)image.Width * image.Height, 1, MaxPixels);
                    }
                    catch (ImageDecodeException e)
                    {
                        refused++;
                        if (e.Message.Contains("over the limit", StringComparison.Ordinal)) overLimit++;
                    }
                    catch (Exception e) { Assert.Fail($"{name}: {e.GetType().Name} escaped the decoder: {e.Message}"); }
                    finally { image.ReleaseIfOutsized(); }
                }

                var ds = new ImageFolderDataset(root, maxPixels: MaxPixels);
                var spec = new AugmentationSpec { Size = 16, ScaleMin = 0.2, BlurP = 0.5 };
                using var loader = new DataLoader(ds, [new AugmentationPipeline(spec)], new DataLoaderOptions
                {
                    BatchSize = 16, NumWorkers = 2, DropLast = false, Warnings = warnings,
                });
                foreach (var _ in loader.Epoch(0)) { }
                skipped = loader.SkippedSamples;

                string dir = Path.Combine(root, "idx");
                Directory.CreateDirectory(dir);
                foreach (var (imageBytes, labelBytes) in idx)
                {
                    File.WriteAllBytes(Path.Combine(dir, "train-images-idx3-ubyte"), imageBytes);
                    File.WriteAllBytes(Path.Combine(dir, "train-labels-idx1-ubyte"), labelBytes);
                    try
                    {
                        IdxDataset.LoadMnist(dir);
                        idxLoaded++;
                    }
                    catch (DatasetException e)
                    {
                        Assert.Contains("train-", e.Message); // names the file
                        idxRefused++;
                    }
                }
            });

            // At most three images are decoded at once (this thread, then two workers), each within the pixel limit:
            // 8 bytes a pixel inflated (16-bit RGBA PNG) or 6 of coefficients (progressive 4:4:4 JPEG in libjpeg), and
            // 3 decoded; the files themselves; one IDX pair at a time, never more than 1032 times its file (gzip's densest
            // ratio). Beyond that, 64 MiB for the runtime's own growth.
            long files = images.Sum(f => (long)f.Data.Length) + idx.Max(p => (long)(p.Images.Length + p.Labels.Length) * 1032);
            long bound = 3 * MaxPixels * (8 + 3) + files + (64L << 20);
            Assert.True(growth < bound, $"peak memory rose by {growth >> 20} MiB (bound {bound >> 20} MiB)");
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"took {clock.Elapsed.TotalSeconds:F1} s");

            var lines = warnings.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(skipped, lines.Length);
            Assert.All(lines, l => Assert.StartsWith($"warning: skipping unreadable image {Path.Combine(root, "c")}", l));
            // Decoding alone and through the loader (which may decode JPEGs DCT-scaled) agree on nearly every file.
            Assert.InRange(skipped, refused - 10, refused + 10);
            Assert.True(decoded > 30 && refused > 30 && overLimit > 10, $"{decoded} decoded, {refused} refused ({overLimit} over the pixel limit): the mutations should do all");
            Assert.True(idxLoaded > 5 && idxRefused > 30, $"IDX: {idxLoaded} loaded, {idxRefused} refused");

            Console.WriteLine($"fuzz: {images.Count} images ({decoded} decoded, {refused} refused of which {overLimit} over the limit, {skipped} skipped by the loader), " +
                              $"{idx.Count} IDX ({idxLoaded} loaded, {idxRefused} refused); peak memory +{growth >> 20} MiB of {bound >> 20} MiB allowed; {clock.Elapsed.TotalSeconds:F1} s");
        }
        finally { Directory.Delete(root, true); }
    }
}
