using Vicreg.Engine.Nn;

namespace Vicreg.Engine.IO;

/// <summary>Saves a module's state dict (parameters and buffers, PyTorch's names) as safetensors, and
/// loads one back, checking every name and shape before touching the module.</summary>
public static class StateDictFile
{
    public static void Save(Module module, string path, IReadOnlyDictionary<string, string>? metadata = null, string prefix = "")
        => SafetensorsWriter.Write(path, module.StateDict(prefix), metadata);

    /// <summary>
    /// Fills <paramref name="module"/>'s parameters and buffers from the file. With a <paramref name="prefix"/>
    /// ("backbone."), only file tensors whose names start with it are considered, and it is stripped from them
    /// (a whole VICReg checkpoint can feed its backbone). Names for which <paramref name="ignore"/> holds
    /// (e.g. torchvision's "fc." head) are skipped. Any missing, unexpected or mis-shaped tensor raises one
    /// <see cref="WeightsMismatchException"/> and leaves the module untouched; a tensor holding NaN or infinity
    /// raises <see cref="NonFiniteValuesException"/> naming it (the module is then partly loaded).
    /// </summary>
    public static void Load(Module module, string path, string prefix = "", Func<string, bool>? ignore = null)
    {
        using var reader = new SafetensorsReader(path);
        Load(module, reader, prefix, ignore);
    }

    public static void Load(Module module, SafetensorsReader reader, string prefix = "", Func<string, bool>? ignore = null)
    {
        var expected = module.StateDict().ToList();
        var fileNames = new HashSet<string>(StringComparer.Ordinal);
        foreach (var e in reader.Entries)
        {
            if (!e.Name.StartsWith(prefix, StringComparison.Ordinal)) continue;
            string local = e.Name[prefix.Length..];
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
            var entry = reader[prefix + name];
            if (entry.Shape != tensor.Shape) shapes.Add((name, tensor.Shape, entry.Shape));
            else if (entry.DType.IsFloating() != (tensor.DType != DType.Int32))
                throw new SafetensorsFormatException($"{reader.Path}: tensor '{entry.Name}' is {entry.DType.HeaderName()} but the model holds {tensor.DType.Name()}");
        }
        var unexpected = reader.Entries.Select(e => e.Name).Where(n => n.StartsWith(prefix, StringComparison.Ordinal))
            .Select(n => n[prefix.Length..]).Where(n => fileNames.Contains(n) && !modelNames.Contains(n)).ToList();
        if (missing.Count > 0 || unexpected.Count > 0 || shapes.Count > 0)
            throw new WeightsMismatchException(reader.Path, missing, unexpected, shapes);

        foreach (var (name, tensor) in expected) reader.ReadInto(prefix + name, tensor);
        FiniteCheck.Require(expected, (name, count) =>
            $"{reader.Path}: tensor '{prefix + name}' holds {count} non-finite value{(count == 1 ? "" : "s")} (NaN or infinity); these weights cannot be used");
        SyncBatchNormCounters(module);
    }

    /// <summary>BatchNorm keeps its batch counter in a field as well as in the buffer; re-read it after a load.</summary>
    private static void SyncBatchNormCounters(Module module)
    {
        if (module is BatchNorm bn) bn.SyncCounterFromBuffer();
        foreach (var (_, child) in module.Children) SyncBatchNormCounters(child);
    }
}
