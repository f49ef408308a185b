using Vicreg.Engine.Backends.Cpu;
using Vicreg.Engine.Data;
using Vicreg.Engine.Data.Datasets;
using Vicreg.Engine.Data.Transforms;
using Vicreg.Engine.IO;
using Vicreg.Engine.Models;

namespace Vicreg.Engine.Inference;

/// <summary>
/// A pretrained backbone that turns images into their representation on the CPU, in evaluation mode and without
/// gradients, as `vicreg embed` does:
/// <code>
/// using var embedder = Embedder.Load("resnet50.pth");
/// var result = embedder.EmbedImages(["photos/"]);   // JPEG and PNG files, folders, lists of paths
/// float[] first = result.Rows[0];                   // 2048 floats, the features of result.Files[0]
/// </code>
/// It holds the weights in native memory until disposed. One instance is not to be used from several threads at once.
/// </summary>
public sealed class Embedder : IDisposable
{
    private readonly ResNet _backbone;
    private readonly IBackend _backend;
    private bool _disposed;

    private Embedder(ResNet backbone, IBackend backend, BackboneSpec spec, StateDictLoad load)
    {
        _backbone = backbone;
        _backend = backend;
        Spec = spec;
        LoadReport = load.ToString();
    }

    /// <summary>
    /// Loads the backbone <paramref name="spec"/> describes (by default the official VICReg ResNet-50) from
    /// safetensors or a PyTorch .pth; see <see cref="BackboneFile.Load"/> for the formats and the exceptions.
    /// </summary>
    public static Embedder Load(string weightsPath, BackboneSpec? spec = null)
    {
        spec ??= new BackboneSpec();
        var backend = Device.InstallCpuIfAbsent(CpuBackend.Instance);
        var (backbone, load) = BackboneFile.Load(weightsPath, spec, backend);
        return new Embedder(backbone, backend, spec, load);
    }

    /// <summary>The architecture, stem, width and input channels of the backbone.</summary>
    public BackboneSpec Spec { get; }

    /// <summary>What the load read, in one line ("read resnet50.pth: zip format, 320 tensors (2 others ignored)").</summary>
    public string LoadReport { get; }

    /// <summary>The number of features per image.</summary>
    public int RepresentationSize => _backbone.RepresentationSize;

    /// <summary>The backbone itself (torchvision's ResNet without its classifier), for uses beyond embedding.</summary>
    public ResNet Backbone => Alive()._backbone;

    /// <summary>
    /// Features [N, <see cref="RepresentationSize"/>] of already-transformed images: a float32 CPU tensor
    /// [N, <see cref="BackboneSpec.InChannels"/>, H, W], <paramref name="batchSize"/> images per forward pass.
    /// The caller disposes the result (or the <see cref="TensorScope"/> around the call does).
    /// </summary>
    public Tensor Embed(Tensor images, int batchSize = 32)
    {
        ArgumentNullException.ThrowIfNull(images);
        Alive();
        if (images.Rank != 4 || images.Shape[1] != Spec.InChannels || images.Shape[0] < 1 || images.Shape[2] < 1 || images.Shape[3] < 1)
            throw new ArgumentException($"images must be [N, {Spec.InChannels}, H, W] with N, H and W at least 1, got {images.Shape}", nameof(images));
        if (images.DType != DType.Float32 || !images.Backend.IsHostMemory)
            throw new ArgumentException($"images must be float32 on the CPU, got {images.DType.Name()} on {images.Backend.Name}", nameof(images));
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        using var frozen = new FrozenBackbone(_backbone, _backend, batchSize);
        return frozen.FeaturesOfRows(images, RepresentationSize);
    }

    /// <summary>As <see cref="Embed"/>, one float[] per image.</summary>
    public float[][] EmbedRows(Tensor images, int batchSize = 32)
    {
        using var features = Embed(images, batchSize);
        var values = features.AsSpan<float>();
        var rows = new float[images.Shape[0]][];
        for (int i = 0; i < rows.Length; i++) rows[i] = values.Slice(i * RepresentationSize, RepresentationSize).ToArray();
        return rows;
    }

    /// <summary>
    /// Features of JPEG and PNG files (told by content, whatever their names): <paramref name="paths"/> name files,
    /// folders (searched recursively; other files are ignored) or text files listing paths one per line. Each image
    /// goes through <paramref name="transform"/>, by default the evaluation transform of photographs at 224 pixels
    /// (<see cref="EvaluationTransforms.Photographs"/>: Resize 256, CenterCrop 224, ImageNet's normalization).
    /// <paramref name="workers"/> threads decode (0: the caller's). An unreadable image is skipped and named in
    /// <see cref="ImageEmbeddings.Skipped"/>; a path that names nothing, or no readable image at all, is a
    /// <see cref="DatasetException"/>.
    /// </summary>
    public ImageEmbeddings EmbedImages(IEnumerable<string> paths, IImageTransform? transform = null, int batchSize = 32, int workers = 2)
    {
        ArgumentNullException.ThrowIfNull(paths);
        Alive();
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(workers);
        transform ??= EvaluationTransforms.Photographs();
        if (transform.Channels != Spec.InChannels)
            throw new ArgumentException($"the transform makes {transform.Channels}-channel images and the backbone takes {Spec.InChannels}", nameof(transform));
        var images = new ImageFilesDataset(ImageFileList.Collect(paths).Files, transform.Channels);
        var skipped = new SortedDictionary<int, string>();
        var features = FeatureExtractor.Extract(_backbone, images, transform, _backend, Math.Max(1, Math.Min(batchSize, images.Count)), workers,
            skipped: (index, reason) => { lock (skipped) skipped[index] = reason; });
        var rows = new float[features.Count][];
        var files = new string[features.Count];
        for (int r = 0; r < rows.Length; r++)
        {
            rows[r] = features.Values.AsSpan(r * features.Dimension, features.Dimension).ToArray();
            files[r] = images.Describe(features.Indices[r]);
        }
        return new ImageEmbeddings(files, rows, skipped.Select(s => new SkippedImage(images.Describe(s.Key), s.Value)).ToList());
    }

    /// <summary>Frees the weights' native memory; the embedder cannot be used afterwards.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        BackboneFile.Release(_backbone);
    }

    private Embedder Alive() => _disposed ? throw new ObjectDisposedException(nameof(Embedder)) : this;
}
