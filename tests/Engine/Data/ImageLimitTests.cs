using System.Diagnostics;
using Vicreg.Engine.Data;
using Vicreg.Engine.Data.Datasets;
using Vicreg.Engine.Data.Decoding;
using Vicreg.Engine.Data.Transforms;

namespace Vicreg.Tests.Engine.Data;

/// <summary>Images that announce enormous sizes, are enormous, or are not files at all: each is refused from its
/// header or skipped, never a crash, a hang or a buffer kept for the rest of the run.</summary>
public class ImageLimitTests
{
    private static IImageTransform Small => new AugmentationPipeline(new AugmentationSpec { Size = 12, ScaleMin = 0.3 });

    private static void WriteGoodImages(string folder, int count)
    {
        Directory.CreateDirectory(folder);
        for (int i = 0; i < count; i++)
            File.WriteAllBytes(Path.Combine(folder, $"good{i}.jpg"), JpegEncoder.Encode(TestImages.Smooth(21, 17, 3, (ulong)i + 40), 21, 17, 3, 90));
    }

    [Fact]
    public void PngAnnouncingTwoBillionSquaredIsRefusedFromItsHeader()
    {
        var png = HostileImages.PngClaiming(int.MaxValue, int.MaxValue);
        Assert.True(png.Length < 100, $"{png.Length} bytes");
        var e = Assert.Throws<ImageDecodeException>(() => ImageDecoder.Decode(png, new ImageBuffer(), 3));
        Assert.Contains("2147483647x2147483647", e.Message);
        Assert.Contains("over the limit of 89,478,485", e.Message);
        // Raising the limit as far as it goes still fails cleanly (the buffer cannot be made), not with an overflow.
        Assert.Throws<ImageDecodeException>(() => ImageDecoder.Decode(png, new ImageBuffer(), 3, maxPixels: long.MaxValue));
    }

    [Fact]
    public void OneBitPngOf30000SquaredIsRefusedAndARaisedLimitStillOnlySkipsIt()
    {
        var png = HostileImages.LargePng(30000, 30000, 1, 0, _ => HostileImages.PatternRow(30000 / 8));
        Assert.True(png.Length < 1_000_000, $"{png.Length} bytes");
        var e = Assert.Throws<ImageDecodeException>(() => ImageDecoder.Decode(png, new ImageBuffer(), 3));
        Assert.Contains("over the limit", e.Message);
        var big = Assert.Throws<ImageDecodeException>(() => ImageDecoder.Decode(png, new ImageBuffer(), 3, maxPixels: 1_000_000_000));
        Assert.Contains("too large for one buffer", big.Message);
    }

    [SkippableFact]
    public void ProgressiveJpegAnnouncing20000SquaredIsRefusedBeforeLibjpegAllocates()
    {
        Skip.IfNot(PeakMemory.Available, "/proc/self/clear_refs is not available");
        var jpeg = HostileImages.JpegClaiming(20000, 20000, progressive: true);
        Assert.True(jpeg.Length < 2000, $"{jpeg.Length} bytes");
        ImageDecodeException? error = null;
        long growth = PeakMemory.Growth(() => error = Assert.Throws<ImageDecodeException>(() => ImageDecoder.Decode(jpeg, new ImageBuffer(), 3)));
        Assert.Contains("20000x20000", error!.Message);
        Assert.Contains("over the limit", error.Message);
        // Decoding it would take 20000^2 x 3 components x 2 bytes of coefficients (2.4 GB); refusing it, nothing of its size.
        Assert.True(growth < 64L << 20, $"peak memory rose by {growth >> 20} MiB");
        // The thread's decoder is still good for the next image.
        var good = JpegEncoder.Encode(TestImages.Smooth(20, 12, 3, 1), 20, 12, 3, 90);
        var image = new ImageBuffer();
        ImageDecoder.Decode(good, image, 3);
        Assert.Equal((20, 12), (image.Width, image.Height));
    }

    [Fact]
    public void TheLimitIsTheDatasetsAndALowerOneSkipsWhatTheDefaultReads()
    {
        string root = TestImages.TempFolder("limit");
        try
        {
            Directory.CreateDirectory(Path.Combine(root, "c"));
            var png = TestPngWriter.Encode(TestImages.Noise(20 * 20 * 3, 5).Select(b => (int)b).ToArray(), 20, 20, 8, 2);
            File.WriteAllBytes(Path.Combine(root, "c", "a.png"), png);
            var image = new ImageBuffer();
            byte[] scratch = [];
            new ImageFolderDataset(root).Read(0, image, ref scratch);
            Assert.Equal((20, 20), (image.Width, image.Height));
            var limited = new ImageFolderDataset(root, maxPixels: 399);
            Assert.Equal(399, limited.MaxPixels);
            var e = Assert.Throws<ImageDecodeException>(() => limited.Read(0, image, ref scratch));
            Assert.Contains("400 pixels, over the limit of 399", e.Message);
            Assert.True(new ImageFolderDataset(root, maxPixels: 400).MaxPixels == 400);
            new ImageFolderDataset(root, maxPixels: 400).Read(0, image, ref scratch);
        }
        finally { Directory.Delete(root, true); }
    }

    [Fact]
    public void BuffersOfAnOutsizedImageAreHandedBackAfterIt()
    {
        string root = TestImages.TempFolder("outsized");
        try
        {
            WriteGoodImages(Path.Combine(root, "a"), 2);
            // 4000 x 3000 RGB: 36 MB inflated and 36 MB decoded, each more than a worker keeps (ImageLimits.RetainedBufferBytes).
            File.WriteAllBytes(Path.Combine(root, "a", "large.png"), HostileImages.LargePng(4000, 3000, 8, 2, _ => HostileImages.PatternRow(12000)));
            var ds = new ImageFolderDataset(root);
            using var loader = new DataLoader(ds, [Small], new DataLoaderOptions { BatchSize = 3, NumWorkers = 0, DropLast = false, Shuffle = false });
            long before = GC.GetTotalMemory(forceFullCollection: true);
            foreach (var b in loader.Epoch(0)) Assert.Equal(3, b.Count);
            Assert.Equal(0, loader.SkippedSamples);
            long kept = GC.GetTotalMemory(forceFullCollection: true) - before;
            Assert.True(kept < 8 << 20, $"{kept >> 20} MiB still held after the epoch");
        }
        finally { Directory.Delete(root, true); }
    }

    private static InMemoryImageDataset Random(int count)
    {
        var labels = Enumerable.Range(0, count).Select(i => i % 3).ToArray();
        return new InMemoryImageDataset(TestImages.Noise(count * 8 * 8 * 3, 17), labels, 8, 8, 3, ["x", "y", "z"], "random");
    }

    [Fact]
    public void AnyExceptionWhileReadingOneSampleIsACountedSkipNamingIt()
    {
        var ds = new FailingDataset(Random(9), new()
        {
            [2] = new ArgumentOutOfRangeException("count", "span too short"),
            [5] = new IndexOutOfRangeException("index was outside the bounds"),
            [7] = new OutOfMemoryException("no room"),
        });
        var warnings = new StringWriter();
        using (var loader = new DataLoader(ds, [Small], new DataLoaderOptions { BatchSize = 3, NumWorkers = 2, DropLast = false, Warnings = warnings }))
        {
            Assert.Equal(3, loader.Epoch(0).Count());
            Assert.Equal(3, loader.SkippedSamples);
        }
        string text = warnings.ToString();
        Assert.Contains("sample-2: ArgumentOutOfRangeException", text);
        Assert.Contains("sample-5: IndexOutOfRangeException", text);
        Assert.Contains("sample-7: OutOfMemoryException", text);

        using var strict = new DataLoader(ds, [Small], new DataLoaderOptions { BatchSize = 3, NumWorkers = 2, Strict = true, Warnings = null });
        var e = Assert.Throws<DatasetException>(() => strict.Epoch(0).Count());
        Assert.Contains("strict", e.Message);

        // A data set that cannot be read at all (not one file) still stops the run.
        var broken = new FailingDataset(Random(4), new() { [1] = new DatasetException("cannot load libturbojpeg.so.0") });
        using var stop = new DataLoader(broken, [Small], new DataLoaderOptions { BatchSize = 2, NumWorkers = 1, Warnings = null });
        Assert.Contains("libturbojpeg", Assert.Throws<DatasetException>(() => stop.Epoch(0).Count()).Message);
    }

    [Fact]
    public async Task AFifoNamedLikeAnImageIsSkippedNotWaitedFor()
    {
        string root = TestImages.TempFolder("fifo");
        try
        {
            WriteGoodImages(Path.Combine(root, "a"), 3);
            string fifo = Path.Combine(root, "a", "zz.png");
            using (var mk = Process.Start("mkfifo", [fifo])) mk.WaitForExit();
            Assert.True(File.Exists(fifo));
            var ds = new ImageFolderDataset(root);
            Assert.Equal(4, ds.Count);
            var warnings = new StringWriter();
            using var loader = new DataLoader(ds, [Small], new DataLoaderOptions { BatchSize = 2, NumWorkers = 2, DropLast = false, Shuffle = false, Warnings = warnings });
            var epoch = Task.Run(() => loader.Epoch(0).Count());
            if (await Task.WhenAny(epoch, Task.Delay(TimeSpan.FromSeconds(30))) != epoch)
            {
                // Release the reader blocked in open() so the test process can end, then fail.
                using (new FileStream(fifo, FileMode.Open, FileAccess.Write)) { }
                Assert.Fail("reading the image folder waits for a writer of the FIFO");
            }
            Assert.Equal(1, loader.SkippedSamples);
            Assert.Contains($"{fifo}: not a regular file (a FIFO)", warnings.ToString());
        }
        finally { Directory.Delete(root, true); }
    }

    [Fact]
    public void AnImageWhoseNameIsNotUtf8IsListedByItsBytesAndRead()
    {
        string root = TestImages.TempFolder("bytes");
        try
        {
            string folder = Path.Combine(root, "a");
            WriteGoodImages(folder, 1);
            // .NET cannot name such a file; the shell makes it: "b\377.png" and a class folder "c\376".
            using (var sh = Process.Start("/bin/sh", ["-c", "cd \"$1\" && cp a/good0.jpg \"$(printf 'a/b\\377.png')\" && mkdir \"$(printf 'c\\376')\" && cp a/good0.jpg \"$(printf 'c\\376/d.jpg')\"", "sh", root]))
            {
                sh.WaitForExit();
                Assert.Equal(0, sh.ExitCode);
            }
            var ds = new ImageFolderDataset(root);
            Assert.Equal(["a", "c\\xfe"], ds.Classes);
            Assert.Equal(3, ds.Count);
            Assert.EndsWith("a/b\\xff.png", ds.FilePath(0)); // 'b' sorts before 'g'
            Assert.EndsWith("c\\xfe/d.jpg", ds.FilePath(2));
            var image = new ImageBuffer();
            byte[] scratch = [];
            for (int i = 0; i < ds.Count; i++)
            {
                ds.Read(i, image, ref scratch);
                Assert.Equal((21, 17), (image.Width, image.Height));
            }
        }
        finally
        {
            using var rm = Process.Start("rm", ["-rf", root]); // .NET cannot delete what it cannot name
            rm.WaitForExit();
        }
    }

    [Fact]
    public void EveryHostileFileInAFolderIsACountedSkipNamingIt()
    {
        string root = TestImages.TempFolder("hostile");
        try
        {
            string folder = Path.Combine(root, "a");
            WriteGoodImages(folder, 3);
            var hostile = new Dictionary<string, byte[]>
            {
                ["huge-header.png"] = HostileImages.PngClaiming(int.MaxValue, int.MaxValue),
                ["one-bit-30000.png"] = HostileImages.LargePng(30000, 30000, 1, 0, _ => HostileImages.PatternRow(30000 / 8)),
                ["progressive-20000.jpg"] = HostileImages.JpegClaiming(20000, 20000, progressive: true),
                ["empty.png"] = [],
            };
            foreach (var (name, bytes) in hostile) File.WriteAllBytes(Path.Combine(folder, name), bytes);
            var ds = new ImageFolderDataset(root);
            var warnings = new StringWriter();
            using var loader = new DataLoader(ds, [Small], new DataLoaderOptions { BatchSize = 3, NumWorkers = 2, Warnings = warnings });
            Assert.Equal(2, loader.Epoch(0).Count());
            Assert.Equal(hostile.Count, loader.SkippedSamples);
            foreach (var name in hostile.Keys) Assert.Contains(Path.Combine(folder, name), warnings.ToString());
        }
        finally { Directory.Delete(root, true); }
    }
}
