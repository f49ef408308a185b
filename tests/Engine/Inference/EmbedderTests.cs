using Vicreg.Engine;
using Vicreg.Engine.Autograd;
using Vicreg.Engine.Data;
using Vicreg.Engine.Data.Datasets;
using Vicreg.Engine.Data.Decoding;
using Vicreg.Engine.Data.Transforms;
using Vicreg.Engine.Inference;
using Vicreg.Engine.IO;
using Vicreg.Engine.IO.Pytorch;
using Vicreg.Engine.Models;
using Vicreg.Engine.Nn;
using Vicreg.Tests.App.Commands;
using Vicreg.Tests.Engine.Data;
using Vicreg.Tests.Engine.IO;
using Vicreg.Tests.Engine.Models;

namespace Vicreg.Tests.Engine.Inference;

/// <summary>The library's entry point: a backbone loaded from safetensors or a .pth embeds tensors and image files as the
/// backbone's own forward does, as `vicreg embed` does, and refuses bad input in one line.</summary>
public class EmbedderTests
{
    private static readonly BackboneSpec s_spec = new("resnet18", ResNetStem.Cifar, 0.125, 3);

    /// <summary>An eighth-width RGB ResNet-18 (cifar stem) with non-trivial batch-norm statistics.</summary>
    private static ResNet Model(ulong seed = 53)
    {
        var rng = new Rng(seed);
        var model = Backbones.Create(s_spec.Arch, s_spec.Stem, s_spec.Width, s_spec.InChannels, ref rng);
        foreach (var (name, t) in model.StateDict())
        {
            if (name.EndsWith("running_var", StringComparison.Ordinal) || (t.Rank == 1 && name.EndsWith("weight", StringComparison.Ordinal)))
                Init.Uniform(t, 0.5, 1.5, ref rng);
            else if (name.EndsWith("running_mean", StringComparison.Ordinal) || name.EndsWith("bias", StringComparison.Ordinal))
                Init.Uniform(t, -0.2, 0.2, ref rng);
        }
        model.Eval();
        return model;
    }

    private static Tensor RandomImages(int n, int side, ulong seed)
    {
        var rng = new Rng(seed);
        var x = Tensor.Empty(new Shape(n, 3, side, side));
        Init.Uniform(x, -2, 2, ref rng);
        return x;
    }

    private static float[] Forward(Module model, Tensor x)
    {
        using var _ = Tape.NoGrad();
        return model.Forward(x).ToArray<float>();
    }

    [Fact]
    public void TensorsEmbedAsTheBackboneForwardWhateverTheBatchAndTheFileFormat()
    {
        using var dir = new TempFolder();
        using var scope = TensorScope.Begin();
        var model = Model();
        StateDictFile.Save(model, dir.File("w.safetensors"));
        // A DDP-style training checkpoint: module.backbone.* keys under a 'model' entry is what PytorchCheckpoint reads;
        // a flat state dict with the prefix is the simplest .pth that exercises the prefix detection.
        PytorchWriter.Write(dir.File("w.pth"), model.StateDict("module.backbone."));
        var x = RandomImages(5, 12, 7);
        var expected = Forward(model, x);

        using var fromSafetensors = Embedder.Load(dir.File("w.safetensors"), s_spec);
        using var fromPth = Embedder.Load(dir.File("w.pth"), s_spec);
        Assert.Equal(s_spec.RepresentationSize, fromSafetensors.RepresentationSize);
        Assert.Contains("safetensors", fromSafetensors.LoadReport);
        Assert.Contains("prefix 'module.backbone.' stripped", fromPth.LoadReport);
        foreach (var embedder in new[] { fromSafetensors, fromPth })
            foreach (int batch in new[] { 1, 2, 5, 64 })
            {
                using var features = embedder.Embed(x, batch);
                Assert.Equal(new Shape(5, embedder.RepresentationSize), features.Shape);
                ResNetTests.AssertClose(expected, features.ToArray<float>(), 1e-5);
            }
        var rows = fromPth.EmbedRows(x, 3);
        Assert.Equal(5, rows.Length);
        ResNetTests.AssertClose(expected, rows.SelectMany(r => r).ToArray(), 1e-5);
        Assert.Contains(expected, v => v > 0);
    }

    [Fact]
    public void ImageFilesEmbedAsTheirTransformedPixelsAndAsVicregEmbedDoes()
    {
        using var dir = new TempFolder();
        using var scope = TensorScope.Begin();
        StateDictFile.Save(Model(), dir.File("w.safetensors"));
        string photos = dir.File("photos");
        Directory.CreateDirectory(photos);
        File.WriteAllBytes(Path.Combine(photos, "b.jpg"), JpegEncoder.Encode(TestImages.Smooth(21, 27, 3, 1), 21, 27, 3, 90));
        File.WriteAllBytes(Path.Combine(photos, "a.png"), TestPngWriter.Encode(TestImages.Smooth(17, 13, 3, 2).Select(b => (int)b).ToArray(), 17, 13, 8, 2));
        File.WriteAllBytes(Path.Combine(photos, "c.jpg"), [0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10]);
        var transform = EvaluationTransforms.Photographs(16);

        using var embedder = Embedder.Load(dir.File("w.safetensors"), s_spec);
        var result = embedder.EmbedImages([photos], transform, batchSize: 2, workers: 2);
        string[] files = [Path.Combine(photos, "a.png"), Path.Combine(photos, "b.jpg")];
        Assert.Equal(files, result.Files);
        Assert.Equal(Path.Combine(photos, "c.jpg"), Assert.Single(result.Skipped).File);

        // Each row: the file decoded (a JPEG at the least DCT scale the transform accepts, as the loader decodes it), taken
        // through the transform, embedded as a tensor.
        var pixels = new float[files.Length * 3 * 16 * 16];
        var dataset = new ImageFilesDataset([.. files.Select(f => System.Text.Encoding.UTF8.GetBytes(f))]);
        var image = new ImageBuffer();
        byte[] scratch = [];
        for (int i = 0; i < files.Length; i++)
        {
            dataset.Read(i, image, ref scratch, new ScaleOf(transform));
            var rng = new Rng(0);
            transform.Apply(image, ref rng, pixels.AsSpan(i * 3 * 16 * 16, 3 * 16 * 16));
        }
        var expected = embedder.EmbedRows(Tensor.FromArray<float>(pixels, new Shape(files.Length, 3, 16, 16)));
        for (int i = 0; i < files.Length; i++) ResNetTests.AssertClose(expected[i], result.Rows[i], 1e-5);

        // `vicreg embed --images` computes the same rows.
        var run = CommandRunner.Run("embed", "--arch", "resnet18", "--stem", "cifar", "--width", "0.125", "--weights", dir.File("w.safetensors"),
            "--image-size", "16", "--images", photos, "--output", dir.File("y.npy"), "--device", "cpu", "--num-workers", "1");
        Assert.True(run.Code == 0, run.Err);
        var (n, d, values) = EmbedImagesTests.ReadNpy(dir.File("y.npy"));
        Assert.Equal((2, embedder.RepresentationSize), (n, d));
        Assert.Equal(values, result.Rows.SelectMany(r => r).ToArray());
    }

    private sealed class ScaleOf(IImageTransform transform) : IDecodeScaleChooser
    {
        public double MinimumScale(int sourceWidth, int sourceHeight) => transform.MinimumDecodeScale(sourceWidth, sourceHeight, new Rng(0));
    }

    [Fact]
    public void BadInputIsOneLineAndADisposedEmbedderFreesItsWeights()
    {
        using var dir = new TempFolder();
        using var scope = TensorScope.Begin();
        StateDictFile.Save(Model(), dir.File("w.safetensors"));
        File.WriteAllBytes(dir.File("junk.pth"), [.. "PK\u0003\u0004 truncated"u8]);

        static void OneLine(Exception e, string part)
        {
            Assert.Contains(part, e.Message);
            Assert.DoesNotContain('\n', e.Message);
        }
        OneLine(Assert.ThrowsAny<IOException>(() => Embedder.Load(dir.File("none.safetensors"), s_spec)), "none.safetensors");
        OneLine(Assert.Throws<WeightsMismatchException>(() => Embedder.Load(dir.File("w.safetensors"), s_spec with { Arch = "resnet34" })), "do not fit the model");
        OneLine(Assert.Throws<WeightsMismatchException>(() => Embedder.Load(dir.File("w.safetensors"))), "do not fit the model");
        OneLine(Assert.ThrowsAny<WeightsFormatException>(() => Embedder.Load(dir.File("junk.pth"), s_spec)), "junk.pth");
        OneLine(Assert.Throws<ArgumentException>(() => Embedder.Load(dir.File("w.safetensors"), s_spec with { Arch = "vgg16" })), "unknown arch 'vgg16'");

        var embedder = Embedder.Load(dir.File("w.safetensors"), s_spec);
        OneLine(Assert.Throws<ArgumentException>(() => embedder.Embed(Tensor.Zeros(new Shape(2, 1, 8, 8)))), "images must be [N, 3, H, W]");
        OneLine(Assert.Throws<ArgumentException>(() => embedder.Embed(Tensor.Zeros(new Shape(2, 3, 8, 8), DType.Float64))), "float32");
        OneLine(Assert.Throws<DatasetException>(() => embedder.EmbedImages([dir.File("nothing")])), "nothing");
        OneLine(Assert.Throws<ArgumentException>(() => embedder.EmbedImages([dir.File("w.safetensors")], EvaluationTransforms.SmallImages(28, DatasetNormalization.FashionMnist))), "1-channel");

        var weights = embedder.Backbone.StateDict().Select(p => p.Tensor).ToList();
        embedder.Dispose();
        Assert.All(weights, t => Assert.True(t.IsDisposed));
        Assert.Throws<ObjectDisposedException>(() => embedder.Embed(RandomImages(1, 8, 1)));
        embedder.Dispose();
    }
}
