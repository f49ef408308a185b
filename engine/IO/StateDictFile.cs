using Vicreg.Engine.Nn;

namespace Vicreg.Engine.IO;

/// <summary>What a load did, as one line: "read resnet50.pth: zip format, 'model' entry, prefix
/// 'module.backbone.' stripped, 320 tensors (9 others ignored)".</summary>
public sealed record StateDictLoad(string Path, string Format, string Prefix, int Loaded, int Ignored)
{
    /// <summary>The load in one line, as the commands print it.</summary>
    public override string ToString() =>
        $"read {System.IO.Path.GetFileName(Path)}: {Format}{(Prefix.Length > 0 ? $", prefix '{Prefix}' stripped" : "")}, {Loaded} tensors" +
        (Ignored > 0 ? $" ({Ignored} other{(Ignored == 1 ? "" : "s")} ignored)" : "");
}

/// <summary>Saves a module's state dict (parameters and buffers, PyTorch's names) as safetensors, and
/// loads one back from safetensors or a PyTorch .pth, checking every name and shape before touching the module.</summary>
public static class StateDictFile
{
    /// <summary>The prefixes <see cref="AutoPrefix"/> recognizes: DistributedDataParallel's "module.", a
    /// VICReg model's "backbone.", both, and our pretraining checkpoint's "model.backbone.".</summary>
    public static readonly string[] KnownPrefixes = ["", "module.", "backbone.", "module.backbone.", "model.backbone."];

    /// <summary>Given as a prefix, asks <see cref="Load(Module, ITensorFile, string, Func{string, bool}?)"/> to pick one of <see cref="KnownPrefixes"/>.</summary>
    public const string AutoPrefix = "auto";

    /// <summary>Writes the module's parameters and buffers, named after <paramref name="prefix"/>, as safetensors with <paramref name="metadata"/>.</summary>
    public static void Save(Module module, string path, IReadOnlyDictionary<string, string>? metadata = null, string prefix = "")
        => SafetensorsWriter.Write(path, module.StateDict(prefix), metadata);

    /// <summary>
    /// Fills <paramref name="module"/>'s parameters and buffers from the file (safetensors or .pth, told apart by
    /// content). With a <paramref name="prefix"/> ("backbone."), only file tensors whose names start with it are
    /// considered, and it is stripped from them (a whole VICReg checkpoint can feed its backbone); with
    /// <see cref="AutoPrefix"/>, the known prefix that matches most of the module's names is taken. Names for
    /// which <paramref name="ignore"/> holds (e.g. torchvision's "fc." head) are skipped. Any missing,
    /// unexpected or mis-shaped tensor raises one <see cref="WeightsMismatchException"/> and leaves the module untouched; a tensor holding NaN or infinity
    /// raises <see cref="NonFiniteValuesException"/> naming it (the module is then partly loaded).
    /// </summary>
    public static StateDictLoad Load(Module module, string path, string prefix = "", Func<string, bool>? ignore = null)
    {
        using var file = WeightsFile.Open(path);
        return Load(module, file, prefix, ignore);
    }

    /// <summary>As <see cref="Load(Module, string, string, Func{string, bool}?)"/>, from a file already open.</summary>
    public static StateDictLoad Load(Module module, ITensorFile file, string prefix = "", Func<string, bool>? ignore = null)
    {
        var expected = module.StateDict().ToList();
        if (prefix == AutoPrefix) prefix = DetectPrefix(file, expected.Select(p => p.Name));
        var stored = file.Tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
        var fileNames = new HashSet<string>(StringComparer.Ordinal);
        foreach (var t in file.Tensors)
        {
            if (!t.Name.StartsWith(prefix, StringComparison.Ordinal)) continue;
            string local = t.Name[prefix.Length..];
            if (ignore?.Invoke(local) == true) continue;
            fileNames.Add(local);
        }

        var missing = new List<string>();
        var shapes = new List<(string, Shape, Shape)>();
        var modelNames = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, tensor) in expected)
        {
            modelNames.Add(name);
            if (!fileNames.Contains(name)) { missing.Add(name); continue; }
            var entry = stored[prefix + name];
            if (entry.Shape != tensor.Shape) shapes.Add((name, tensor.Shape, entry.Shape));
            else if (entry.IsFloating != (tensor.DType != DType.Int32))
                throw new WeightsFormatException($"{file.Path}: tensor '{entry.Name}' is {entry.TypeName} but the model holds {tensor.DType.Name()}");
        }
        var unexpected = fileNames.Where(n => !modelNames.Contains(n)).ToList();
        if (missing.Count > 0 || unexpected.Count > 0 || shapes.Count > 0)
            throw new WeightsMismatchException(file.Path, missing, unexpected, shapes);

        foreach (var (name, tensor) in expected) file.ReadInto(prefix + name, tensor);
        FiniteCheck.Require(expected, (name, count) =>
            $"{file.Path}: tensor '{prefix + name}' holds {count} non-finite value{(count == 1 ? "" : "s")} (NaN or infinity); these weights cannot be used");
        module.StateLoaded();
        return new StateDictLoad(file.Path, file.FormatDescription, prefix, expected.Count, file.Tensors.Count - expected.Count);
    }

    /// <summary>The known prefix under which the file holds most of <paramref name="names"/> (the first such on a tie).</summary>
    public static string DetectPrefix(ITensorFile file, IEnumerable<string> names)
    {
        var stored = file.Tensors.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        var wanted = names.ToList();
        return KnownPrefixes.MaxBy(p => (wanted.Count(n => stored.Contains(p + n)), -Array.IndexOf(KnownPrefixes, p)))!;
    }
}
