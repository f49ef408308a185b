using Vicreg.Datasets;
using Vicreg.Engine.Backends.Cpu;
using Vicreg.Engine.Data;
using Vicreg.Engine.Data.Datasets;
using Vicreg.Engine.Inference;
using Vicreg.Engine.IO;
using Vicreg.Engine;
using Vicreg.Engine.Models;
using Vicreg.Training;

namespace Vicreg.Commands;

/// <summary>
/// `vicreg embed`: a backbone's representation of images, in evaluation mode and without gradients,
/// batch by batch. The images come as a tensor "x" [N, C, H, W] in a safetensors file (--input), from a
/// dataset split (--dataset/--data-dir/--split) through its evaluation transform, in which case the labels
/// are written too, or as JPEG and PNG files (--images: files, folders, lists of paths) through the evaluation
/// transform of the model's data set (--dataset) or of photographs at --image-size, written as safetensors,
/// .npy or CSV beside the list of the rows' files and the list of the skipped ones with the reason.
/// </summary>
public sealed class EmbedCommand : ICommand
{
    public string Name => "embed";
    public string Summary => "backbone features [N, rep] of image files, a data set or a tensor x [N, C, H, W] (eval mode, no grad)";

    public int Run(Arguments args, string commandLine)
    {
        string arch = args.String("arch", "resnet50", $"backbone ({string.Join(", ", Backbones.Architectures)})");
        string stemName = args.String("stem", "imagenet", "imagenet (7x7/2 conv + max-pool) or cifar (3x3/1 conv, no max-pool)");
        double width = args.Double("width", 1, "width multiplier (resnet50x2: 2; a fraction such as 0.25 narrows it)", min: 1.0 / 64, max: 64);
        int inChannels = args.Int("in-channels", 3, "input channels (1 for grayscale; with --dataset, the dataset's)", min: 1, max: 64);
        string? weights = args.OptionalString("weights", "backbone weights, torchvision names (fc.* is ignored): safetensors or a PyTorch .pth (zip or legacy format; a checkpoint's 'model' entry)");
        string prefix = args.String("weights-prefix", StateDictFile.AutoPrefix, $"only tensors named with this prefix, which is stripped (e.g. backbone.); auto picks one of '{string.Join("', '", StateDictFile.KnownPrefixes)}'");
        string? input = args.OptionalString("input", "safetensors file holding x [N, C, H, W] (float32); or use --dataset or --images");
        var imagePaths = args.Repeated("images", "JPEG and PNG files, folders of them (recursive; told by content) or text files listing them one per line; several may follow");
        string? dataset = args.OptionalString("dataset", $"embed a dataset split instead of --input: {string.Join(", ", DatasetCatalog.Names)} (default with --data-dir: what it holds); with --images, the data set whose evaluation transform the images take (default: photographs, imagefolder)");
        string? dataDir = args.OptionalString("data-dir", "dataset folder (default for fashion-mnist: Debian's dataset-fashion-mnist folder)");
        string split = args.String("split", "test", "dataset split: train or test");
        int limit = args.Int("limit", 0, "with --dataset or --images: only the first N images (0 = all)", min: 0);
        int imageSize = args.Int("image-size", 224, "with --dataset imagefolder or --images of photographs: evaluation crop (after a resize of the shorter side to 256/224 of it)", min: 16, max: 1024);
        int workers = args.Int("num-workers", Math.Max(1, Environment.ProcessorCount), "with --dataset or --images: data-loading threads", min: 0, max: 256);
        int maxImagePixels = args.Int("max-image-pixels", (int)ImageLimits.DefaultMaxPixels, "with --dataset or --images: " + DatasetCatalog.MaxImagePixelsHelp, min: 1);
        bool strict = args.Switch("strict", "with --dataset or --images: stop at an unreadable image instead of skipping it");
        string? output = args.OptionalString("output", "file to write, holding features [N, rep]");
        string? format = args.OptionalString("format", $"with --images: {string.Join(", ", FeatureFileFormat.Names)} (default: by --output's extension, .npy or .csv, else safetensors)");
        int batchSize = args.Int("batch-size", 256, "images per forward pass", min: 1);
        string device = args.String("device", "auto", "cpu, cuda or auto");
        if (args.HelpRequested) { Console.WriteLine(args.Usage(Summary)); return 0; }
        args.RejectUnknown();
        if (weights is null) throw new UsageException($"{Name}: --weights is required");
        if (imagePaths.Count > 0 && (input is not null || dataDir is not null))
            throw new UsageException($"{Name}: --images takes the place of {(input is not null ? "--input" : "--data-dir")}; give one of them");
        if (input is null && dataset is null && dataDir is not null)
        {
            (dataset, string? note) = DatasetFlag.Resolve(Name, null, dataDir);
            Console.WriteLine(note);
        }
        if (imagePaths.Count == 0 && (input is null) == (dataset is null))
            throw new UsageException($"{Name}: give --input (a safetensors file with x [N, C, H, W]), --dataset or --images, {(input is null ? "one of them" : "not both --input and --dataset")}");
        if (split is not ("train" or "test")) throw new UsageException($"{Name}: --split must be train or test, got '{split}'");
        if (output is null) throw new UsageException($"{Name}: --output is required");
        if (format is not null && imagePaths.Count == 0) throw new UsageException($"{Name}: --format applies to --images (the other inputs write safetensors)");
        string fileFormat = FeatureFileFormat.Resolve(format, output)
            ?? throw new UsageException($"{Name}: --format must be one of {string.Join(", ", FeatureFileFormat.Names)}, got '{format}'");
        ResNetStem stem;
        try
        {
            stem = ResNetStems.Parse(stemName);
            Backbones.RepresentationSize(arch, width);
        }
        catch (ArgumentException e)
        {
            throw new UsageException($"{Name}: {e.Message}");
        }
        var backend = LossGradCommand.ResolveDevice(Name, device);
        DatasetChoice? data = null;
        IImageTransform? fileTransform = null;
        if (imagePaths.Count > 0)
        {
            try
            {
                fileTransform = DatasetCatalog.FileEvaluation(dataset ?? "imagefolder", imageSize);
            }
            catch (DatasetException e)
            {
                throw new UsageException($"{Name}: {e.Message}");
            }
            if (dataset is null && inChannels != fileTransform.Channels)
                throw new UsageException($"{Name}: --images of photographs are RGB; for a model of {inChannels} channels give --dataset with its data set");
            inChannels = fileTransform.Channels;
        }
        else if (dataset is not null)
        {
            try
            {
                data = DatasetCatalog.Open(dataset, dataDir, train: split == "train", imageSize, maxImagePixels);
            }
            catch (DatasetException e)
            {
                throw new UsageException($"{Name}: {e.Message}");
            }
            inChannels = data.Channels;
        }

        ResNet model;
        try
        {
            (model, var load) = BackboneFile.Load(weights, new BackboneSpec(arch, stem, width, inChannels, prefix), backend);
            Console.WriteLine(load);
        }
        catch (WeightsMismatchException e)
        {
            throw new UsageException($"{Name}: {e.Message} (--arch {arch} --stem {stemName} --width {width} --in-channels {inChannels})");
        }
        catch (Exception e) when (e is NonFiniteValuesException or WeightsFormatException)
        {
            throw new UsageException($"{Name}: {e.Message}");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"{Name}: cannot read weights {weights}: {e.Message}");
        }
        if (fileTransform is not null)
            return EmbedFiles(model, imagePaths, fileTransform, maxImagePixels, limit, batchSize, workers, strict, backend, output, fileFormat, commandLine);
        if (data is not null) return EmbedDataset(model, data, limit, batchSize, workers, strict, backend, output, commandLine);

        using var images = ReadImages(input!, inChannels);
        NonFiniteInput.Warn(Name, ("x", images));
        int n = images.Shape[0];
        using var frozen = new FrozenBackbone(model, backend, Math.Min(batchSize, n));
        using var features = frozen.FeaturesOfRows(images, model.RepresentationSize);
        try
        {
            SafetensorsWriter.Write(output, [("features", features)], new Dictionary<string, string> { ["command"] = commandLine });
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"{Name}: cannot write {output}: {e.Message}");
        }
        Console.WriteLine($"{Name}: {n} images {images.Shape} -> features [{n}, {model.RepresentationSize}] ({arch}, {backend.Name}) -> {output}");
        return 0;
    }

    private int EmbedDataset(ResNet model, DatasetChoice data, int limit, int batchSize, int workers, bool strict, IBackend backend, string output, string commandLine)
    {
        var images = DatasetCatalog.Limit(data.Dataset, limit);
        var features = Extract(model, images, data.Evaluation, batchSize, workers, strict, backend, skipped: null);
        using var scope = TensorScope.Begin();
        var values = Tensor.FromArray<float>(features.Values, new Shape(features.Count, features.Dimension), CpuBackend.Instance);
        var labels = Tensor.FromArray<int>(features.Labels, new Shape(features.Count), CpuBackend.Instance);
        var indices = Tensor.FromArray<int>(features.Indices, new Shape(features.Count), CpuBackend.Instance);
        string fileList = FileListPath(output);
        try
        {
            SafetensorsWriter.Write(output, [("features", values), ("labels", labels), ("indices", indices)],
                new Dictionary<string, string> { ["command"] = commandLine, ["dataset"] = data.Name, ["files"] = Path.GetFileName(fileList) });
            WriteFileList(fileList, images, features);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"{Name}: cannot write {output}: {e.Message}");
        }
        int skipped = images.Count - features.Count;
        string skippedNote = skipped > 0 ? $", {skipped} unreadable skipped" : "";
        Console.WriteLine($"{Name}: {features.Count} images of {data.Name}{skippedNote} -> features [{features.Count}, {features.Dimension}] and labels ({backend.Name}) -> {output}; rows' files in {fileList}");
        return 0;
    }

    /// <summary>The backbone's features of every readable sample, with progress; a memory budget too small for the
    /// batch and the features, or no readable sample (or, strict, one unreadable), is a usage error.</summary>
    private FeatureSet Extract(ResNet model, IImageDataset images, IImageTransform transform, int batchSize, int workers, bool strict,
        IBackend backend, Action<int, string>? skipped)
    {
        batchSize = Math.Max(1, Math.Min(batchSize, images.Count)); // a batch larger than the data set is the whole data set
        if (backend.IsHostMemory)
        {
            try
            {
                MemoryFootprint.Features(model.Arch, model.Stem, model.Width, transform.Channels, transform.Height, transform.Width, batchSize, images.Count)
                    .Require($"{Name} (--arch {model.Arch} --width {model.Width} --batch-size {batchSize})");
            }
            catch (MemoryBudgetException e)
            {
                throw new UsageException($"{Name}: {e.Message}");
            }
        }
        try
        {
            var progress = new ProgressLine("embed", images.Count, "images");
            var features = FeatureExtractor.Extract(model, images, transform, backend, batchSize, workers,
                seen => progress.Report(seen, ""), strict: strict, skipped: skipped);
            progress.Finish();
            return features;
        }
        catch (DatasetException e)
        {
            throw new UsageException($"{Name}: {e.Message}");
        }
    }

    /// <summary>
    /// --images: the files in the order the paths name them; writes the features in <paramref name="format"/>, the
    /// rows' files (y.files.tsv: "row file") and the skipped ones with the reason (y.skipped.tsv: "file reason").
    /// </summary>
    private int EmbedFiles(ResNet model, IReadOnlyList<string> paths, IImageTransform transform, long maxPixels, int limit, int batchSize,
        int workers, bool strict, IBackend backend, string output, string format, string commandLine)
    {
        ImageFileList list;
        try
        {
            list = ImageFileList.Collect(paths);
        }
        catch (DatasetException e)
        {
            throw new UsageException($"{Name}: --images {e.Message}");
        }
        var images = DatasetCatalog.Limit(new ImageFilesDataset(list.Files, transform.Channels, maxPixels), limit);
        var skipped = new SortedDictionary<int, string>();
        var features = Extract(model, images, transform, batchSize, workers, strict, backend, (index, reason) => skipped[index] = reason);
        string fileList = FileListPath(output), skipList = SkippedListPath(output);
        try
        {
            FeatureFileFormat.Write(format, output, features.Values, features.Count, features.Dimension,
                new Dictionary<string, string> { ["command"] = commandLine, ["files"] = Path.GetFileName(fileList) });
            AtomicFile.Write(fileList, "tsv", stream =>
            {
                using var writer = TsvWriter(stream);
                writer.WriteLine("row\tfile");
                for (int row = 0; row < features.Count; row++)
                    writer.WriteLine($"{row.ToString(System.Globalization.CultureInfo.InvariantCulture)}\t{images.Describe(features.Indices[row])}");
            });
            AtomicFile.Write(skipList, "tsv", stream =>
            {
                using var writer = TsvWriter(stream);
                writer.WriteLine("file\treason");
                foreach (var (index, reason) in skipped) writer.WriteLine($"{images.Describe(index)}\t{OneLine(reason)}");
            });
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"{Name}: cannot write {output}: {e.Message}");
        }
        string ignored = list.Ignored > 0 ? $"; {list.Ignored} other files in the folders ignored (neither JPEG nor PNG)" : "";
        Console.WriteLine($"{Name}: {features.Count} of {images.Count} image files, {images.Count - features.Count} unreadable skipped -> features " +
            $"[{features.Count}, {features.Dimension}] ({model.Arch}, {transform.Channels}x{transform.Height}x{transform.Width}, {backend.Name}) -> {output} ({format}); " +
            $"rows' files in {fileList}, skipped files in {skipList}{ignored}");
        return 0;
    }

    private static StreamWriter TsvWriter(Stream stream) => new(stream, new System.Text.UTF8Encoding(false), 1 << 16, leaveOpen: true) { NewLine = "\n" };

    /// <summary>A reason as one TSV field: control characters (a decoder's message may hold any) become spaces.</summary>
    private static string OneLine(string text) => string.Concat(text.Select(c => char.IsControl(c) ? ' ' : c));

    /// <summary>Beside y.npy: y.skipped.tsv.</summary>
    public static string SkippedListPath(string output) => Path.ChangeExtension(output, ".skipped.tsv");

    /// <summary>Beside y.safetensors: y.files.tsv.</summary>
    public static string FileListPath(string output) => Path.ChangeExtension(output, ".files.tsv");

    /// <summary>
    /// Which sample each row of the output is: one line per sample of the split in dataset order, "row label
    /// file" tab-separated, the row "-" for a sample that could not be read (it has no row). File names are
    /// written as <see cref="Vicreg.Engine.Data.Datasets.PathText"/> shows them: one line each.
    /// </summary>
    private static void WriteFileList(string path, IImageDataset dataset, FeatureSet features)
    {
        using var writer = new StreamWriter(path, append: false, new System.Text.UTF8Encoding(false));
        writer.WriteLine("row\tlabel\tfile");
        int row = 0;
        for (int i = 0; i < dataset.Count; i++)
        {
            bool present = row < features.Count && features.Indices[row] == i;
            writer.WriteLine($"{(present ? row.ToString(System.Globalization.CultureInfo.InvariantCulture) : "-")}\t{dataset.Label(i)}\t{dataset.Describe(i)}");
            if (present) row++;
        }
    }

    private Tensor ReadImages(string path, int inChannels)
    {
        try
        {
            using var reader = new SafetensorsReader(path);
            if (!reader.TryGetEntry("x", out var x))
                throw new UsageException($"{Name}: {path} has no tensor 'x' (it has: {string.Join(", ", reader.Entries.Select(e => e.Name))})");
            if (x.Shape.Rank != 4 || x.Shape[1] != inChannels)
                throw new UsageException($"{Name}: x in {path} must be [N, {inChannels}, H, W] (--in-channels {inChannels}), got {x.Shape}");
            for (int d = 0; d < 4; d++)
                if (x.Shape[d] <= 0) throw new UsageException($"{Name}: x in {path} has shape {x.Shape}: every dimension of [N, C, H, W] must be at least 1");
            if (!x.DType.IsFloating()) throw new UsageException($"{Name}: x in {path} is {x.DType.HeaderName()}; images must be floating-point");
            return reader.ReadTensor("x", DType.Float32, CpuBackend.Instance);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"{Name}: cannot read {path}: {e.Message}");
        }
    }
}
