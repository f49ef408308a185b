using System.Buffers.Binary;
using System.IO.Compression;
using Vicreg.Engine.Data;
using Vicreg.Engine.Data.Datasets;
using Vicreg.Engine.Data.Decoding;

namespace Vicreg.Tests.Engine.Data;

public class DatasetTests
{
    /// <summary>An IDX file: big-endian magic, dimensions, then the payload (shared with the decoder fuzz test).</summary>
    internal static byte[] Idx(int magic, int[] dims, byte[] payload)
    {
        var b = new byte[4 + dims.Length * 4 + payload.Length];
        BinaryPrimitives.WriteInt32BigEndian(b, magic);
        for (int i = 0; i < dims.Length; i++) BinaryPrimitives.WriteInt32BigEndian(b.AsSpan(4 + i * 4), dims[i]);
        payload.CopyTo(b, 4 + dims.Length * 4);
        return b;
    }

    internal static byte[] Gzip(byte[] data)
    {
        using var m = new MemoryStream();
        using (var g = new GZipStream(m, CompressionLevel.Fastest, leaveOpen: true)) g.Write(data);
        return m.ToArray();
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void IdxFilesLoadGzippedOrPlain(bool gzip)
    {
        string dir = TestImages.TempFolder("idx");
        try
        {
            const int n = 7, rows = 5, cols = 3;
            var pixels = TestImages.Noise(n * rows * cols, 31);
            var labels = TestImages.Noise(n, 32).Select(b => (byte)(b % 10)).ToArray();
            byte[] Maybe(byte[] d) => gzip ? Gzip(d) : d;
            string suffix = gzip ? ".gz" : "";
            File.WriteAllBytes(Path.Combine(dir, "train-images-idx3-ubyte" + suffix), Maybe(Idx(2051, [n, rows, cols], pixels)));
            File.WriteAllBytes(Path.Combine(dir, "train-labels-idx1-ubyte" + suffix), Maybe(Idx(2049, [n], labels)));
            var ds = IdxDataset.LoadMnist(dir, train: true);
            Assert.Equal(n, ds.Count);
            Assert.Equal(1, ds.Channels);
            Assert.Equal((cols, rows), (ds.Width, ds.Height));
            var img = new ImageBuffer();
            byte[] scratch = [];
            for (int i = 0; i < n; i++)
            {
                Assert.Equal(labels[i], ds.Label(i));
                ds.Read(i, img, ref scratch);
                Assert.Equal(pixels.AsSpan(i * rows * cols, rows * cols).ToArray(), img.Pixels.ToArray());
            }
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void WrongIdxMagicNamesTheFileAndTheNumber()
    {
        string dir = TestImages.TempFolder("idxmagic");
        try
        {
            File.WriteAllBytes(Path.Combine(dir, "t10k-images-idx3-ubyte"), Idx(2049, [1, 2, 2], [1, 2, 3, 4]));
            File.WriteAllBytes(Path.Combine(dir, "t10k-labels-idx1-ubyte"), Idx(2049, [1], [3]));
            var e = Assert.Throws<DatasetException>(() => IdxDataset.LoadMnist(dir, train: false));
            Assert.Contains("t10k-images-idx3-ubyte", e.Message);
            Assert.Contains("2049", e.Message);
            Assert.Contains("wrong IDX magic", e.Message);
            var missing = Assert.Throws<DatasetException>(() => IdxDataset.LoadMnist(Path.Combine(dir, "nope")));
            Assert.Contains("nope", missing.Message);
        }
        finally { Directory.Delete(dir, true); }
    }

    [SkippableFact]
    public void DebianFashionMnistPackageLoads()
    {
        string path = IdxDataset.DefaultFashionMnistPath();
        Skip.IfNot(File.Exists(Path.Combine(path, "t10k-images-idx3-ubyte.gz")), $"dataset-fashion-mnist is not installed ({path} is missing)");
        var test = IdxDataset.LoadFashionMnist(train: false);
        Assert.Equal(10000, test.Count);
        Assert.Equal((28, 28, 1), (test.Width, test.Height, test.Channels));
        Assert.Equal(10, test.Classes.Count);
        var counts = new int[10];
        for (int i = 0; i < test.Count; i++) counts[test.Label(i)]++;
        Assert.All(counts, c => Assert.Equal(1000, c)); // the test split is balanced
        double mean = 0;
        for (int i = 0; i < 1000; i++) foreach (byte b in test.Pixels(i)) mean += b;
        mean /= 1000 * 784 * 255.0;
        Assert.InRange(mean, 0.25, 0.32); // 0.2860 over the training set
    }

    [Fact]
    public void CifarBinariesConvertPlanesToHwc()
    {
        string dir = TestImages.TempFolder("cifar");
        try
        {
            var rec10 = new List<byte[]>();
            for (int f = 1; f <= 5; f++)
            {
                var blob = TestImages.Noise(2 * 3073, (ulong)f);
                blob[0] = (byte)(f % 10);
                blob[3073] = (byte)((f + 3) % 10);
                File.WriteAllBytes(Path.Combine(dir, $"data_batch_{f}.bin"), blob);
                rec10.Add(blob);
            }
            var ds = CifarDataset.LoadCifar10(dir, train: true);
            Assert.Equal(10, ds.Count);
            Assert.Equal(3, ds.Channels);
            Assert.Equal((4 + 3) % 10, ds.Label(7)); // file 4, second record
            var px = ds.Pixels(7);
            var rec = rec10[3].AsSpan(3073 + 1);
            for (int p = 0; p < 1024; p += 37)
                for (int c = 0; c < 3; c++) Assert.Equal(rec[c * 1024 + p], px[p * 3 + c]);

            string d100 = Path.Combine(dir, "cifar-100-binary");
            Directory.CreateDirectory(d100);
            var blob100 = TestImages.Noise(3 * 3074, 50);
            for (int r = 0; r < 3; r++) { blob100[r * 3074] = (byte)(r + 1); blob100[r * 3074 + 1] = (byte)(40 + r); }
            File.WriteAllBytes(Path.Combine(d100, "test.bin"), blob100);
            var fine = CifarDataset.LoadCifar100(dir, train: false);
            var coarse = CifarDataset.LoadCifar100(dir, train: false, coarseLabels: true);
            Assert.Equal(41, fine.Label(1));
            Assert.Equal(2, coarse.Label(1));
            Assert.Equal(blob100[2 * 3074 + 2 + 5], fine.Pixels(2)[15]); // red of pixel 5
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void ImageFolderSortsClassesOrdinallyAndFiltersExtensions()
    {
        string root = TestImages.TempFolder("folder");
        try
        {
            var jpeg = JpegEncoder.Encode(TestImages.Smooth(9, 7, 3, 1), 9, 7, 3, 95);
            var png = TestPngWriter.Encode(TestImages.Noise(5 * 4 * 3, 2).Select(b => (int)b).ToArray(), 5, 4, 8, 2);
            foreach (var cls in new[] { "b", "B", "a" }) Directory.CreateDirectory(Path.Combine(root, cls));
            File.WriteAllBytes(Path.Combine(root, "a", "z.jpeg"), jpeg);
            File.WriteAllBytes(Path.Combine(root, "a", "y.PNG"), png);
            File.WriteAllText(Path.Combine(root, "a", "notes.txt"), "not an image");
            Directory.CreateDirectory(Path.Combine(root, "a", "sub"));
            File.WriteAllBytes(Path.Combine(root, "a", "sub", "x.Jpg"), jpeg);
            File.WriteAllBytes(Path.Combine(root, "B", "1.jpg"), jpeg);
            File.WriteAllBytes(Path.Combine(root, "b", "2.png"), png);
            var ds = new ImageFolderDataset(root);
            Assert.Equal(["B", "a", "b"], ds.Classes);
            Assert.Equal(5, ds.Count);
            Assert.Equal([0, 1, 1, 1, 2], Enumerable.Range(0, 5).Select(ds.Label));
            Assert.EndsWith(Path.Combine("a", "y.PNG"), ds.FilePath(1));
            Assert.EndsWith(Path.Combine("a", "z.jpeg"), ds.FilePath(2));
            Assert.EndsWith(Path.Combine("a", "sub", "x.Jpg"), ds.FilePath(3));
            var img = new ImageBuffer();
            byte[] scratch = [];
            ds.Read(1, img, ref scratch);
            Assert.Equal((5, 4, 3), (img.Width, img.Height, img.Channels));
            ds.Read(0, img, ref scratch);
            Assert.Equal((9, 7, 3), (img.Width, img.Height, img.Channels));

            Directory.CreateDirectory(Path.Combine(root, "empty"));
            var e = Assert.Throws<DatasetException>(() => new ImageFolderDataset(root));
            Assert.Contains("empty", e.Message);
            Assert.Contains("holds no", e.Message);
            var missing = Assert.Throws<DatasetException>(() => new ImageFolderDataset(Path.Combine(root, "missing")));
            Assert.Contains("missing", missing.Message);
            var split = Assert.Throws<DatasetException>(() => ImageFolderDataset.OpenSplit(root, "train"));
            Assert.Contains("train", split.Message);
            string noClasses = Path.Combine(root, "a", "sub");
            Assert.Throws<DatasetException>(() => new ImageFolderDataset(noClasses));
        }
        finally { Directory.Delete(root, true); }
    }

    [Fact]
    public void GzippedIdxIsNeverInflatedPastWhatItsHeaderAnnounces()
    {
        string dir = TestImages.TempFolder("idxbomb");
        try
        {
            // 3 images of 4 x 5 announced, then 64 MiB more: 64 KiB gzipped.
            const int n = 3;
            var pixels = TestImages.Noise(n * 20, 41);
            var bomb = new byte[16 + n * 20 + (64 << 20)];
            Idx(2051, [n, 4, 5], pixels).CopyTo(bomb, 0);
            File.WriteAllBytes(Path.Combine(dir, "train-images-idx3-ubyte.gz"), Gzip(bomb));
            File.WriteAllBytes(Path.Combine(dir, "train-labels-idx1-ubyte.gz"), Gzip(Idx(2049, [n], [1, 2, 3])));
            long before = GC.GetAllocatedBytesForCurrentThread();
            var ds = IdxDataset.LoadMnist(dir);
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.True(allocated < 4 << 20, $"{allocated >> 20} MiB allocated to load 60 bytes of images");
            Assert.Equal(n, ds.Count);
            Assert.Equal(pixels.AsSpan(20, 20).ToArray(), ds.Pixels(1).ToArray());
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void IdxHeadersAnnouncingMoreThanTheFileCanHoldAreRefusedBeforeAllocating()
    {
        string dir = TestImages.TempFolder("idxabsurd");
        try
        {
            string images = Path.Combine(dir, "t10k-images-idx3-ubyte.gz"), labels = Path.Combine(dir, "t10k-labels-idx1-ubyte.gz");
            File.WriteAllBytes(labels, Gzip(Idx(2049, [2], [1, 2])));
            void Check(int[] dims, string expected, bool gzip = true)
            {
                var idx = Idx(2051, dims, TestImages.Noise(100, 3));
                File.WriteAllBytes(images, gzip ? Gzip(idx) : idx);
                long before = GC.GetAllocatedBytesForCurrentThread();
                var e = Assert.Throws<DatasetException>(() => IdxDataset.LoadMnist(dir, train: false));
                Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20, "allocated before refusing");
                Assert.Contains(images, e.Message);
                Assert.Contains(expected, e.Message);
            }
            Check([int.MaxValue, int.MaxValue, int.MaxValue], "more than 2,147,483,591 bytes");
            Check([60000, 28, 28], "more than");          // 47 MB from a file of about 150 bytes
            Check([2, 28, 28], "the file holds 100", gzip: false);
            Check([2, -28, 28], "announces -28 rows");
            File.WriteAllBytes(images, Gzip(Idx(2051, [2, 2, 3], TestImages.Noise(12, 3))));
            File.WriteAllBytes(labels, Gzip(Idx(2049, [2], [1, 10])));
            var label = Assert.Throws<DatasetException>(() => IdxDataset.LoadMnist(dir, train: false));
            Assert.Contains(labels, label.Message);
            Assert.Contains("label 10 of image 1", label.Message);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void CorruptGzipSaysSoAndNamesTheFile()
    {
        string dir = TestImages.TempFolder("idxcorrupt");
        try
        {
            var gz = Gzip(Idx(2051, [40, 28, 28], TestImages.Noise(40 * 784, 5)));
            for (int i = 12; i < 40; i++) gz[i] ^= 0x5A; // the deflate data just after the gzip header
            string images = Path.Combine(dir, "train-images-idx3-ubyte.gz");
            File.WriteAllBytes(images, gz);
            File.WriteAllBytes(Path.Combine(dir, "train-labels-idx1-ubyte.gz"), Gzip(Idx(2049, [40], new byte[40])));
            var e = Assert.Throws<DatasetException>(() => IdxDataset.LoadMnist(dir));
            Assert.Contains(images, e.Message);
            Assert.Contains("corrupt gzip data", e.Message);
            Assert.DoesNotContain("unsupported compression method", e.Message);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void CifarLabelErrorsNameTheFile()
    {
        string dir = TestImages.TempFolder("cifarlabel");
        try
        {
            for (int f = 1; f <= 5; f++)
            {
                var blob = TestImages.Noise(2 * 3073, (ulong)f);
                blob[0] = 3;
                blob[3073] = (byte)(f == 4 ? 200 : 5);
                File.WriteAllBytes(Path.Combine(dir, $"data_batch_{f}.bin"), blob);
            }
            var e = Assert.Throws<DatasetException>(() => CifarDataset.LoadCifar10(dir));
            Assert.Contains(Path.Combine(dir, "data_batch_4.bin"), e.Message);
            Assert.Contains("record 1 has label 200", e.Message);
        }
        finally { Directory.Delete(dir, true); }
    }
}
