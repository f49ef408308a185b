namespace Vicreg.Engine.IO.Pytorch;

/// <summary>
/// A file written by torch.save, in the zip or the legacy format, read through <see cref="RestrictedUnpickler"/>
/// (nothing in it is run). Its tensors are those of the state dict it holds: the top-level dict itself, or
/// its 'state_dict' or 'model' entry (a training checkpoint: {'epoch', 'model', 'optimizer'}); other entries
/// and values that are not tensors are ignored. Tensors keep their storage layout until read, when the
/// addressed elements are gathered (honouring strides and offsets) and converted to the destination's type.
/// </summary>
public sealed class PytorchCheckpoint : ITensorFile
{
    private static readonly string[] s_stateDictEntries = ["state_dict", "model"];

    private readonly IStorageSource _storages;
    private readonly Dictionary<string, PytorchTensor> _byName;
    private (PytorchStorage Storage, byte[] Bytes)? _lastStorage;

    /// <summary>The file's path.</summary>
    public string Path { get; }
    /// <summary>The format and where the state dict was found ("zip format, 'model' entry").</summary>
    public string FormatDescription { get; }
    /// <summary>The tensors of the state dict, in the pickle's order.</summary>
    public IReadOnlyList<StoredTensor> Tensors { get; }

    /// <summary>True when the first bytes are those of either torch.save format.</summary>
    public static bool HasMagic(ReadOnlySpan<byte> head) => PytorchZipFormat.HasMagic(head) || PytorchLegacyFormat.HasMagic(head);

    /// <summary>Opens and unpickles the file, reading no tensor yet; a <see cref="PytorchFormatException"/> (one line) for a damaged file or a pickle that asks for anything a state dict does not need.</summary>
    public PytorchCheckpoint(string path)
    {
        Path = path;
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("PyTorch file I/O assumes a little-endian machine");
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        string format;
        object? root;
        try
        {
            Span<byte> head = stackalloc byte[4];
            int n = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
            stream.Position = 0;
            if (PytorchZipFormat.HasMagic(head[..n])) { (root, _storages) = PytorchZipFormat.Open(stream, path); format = "zip format"; }
            else if (PytorchLegacyFormat.HasMagic(head[..n])) { (root, _storages) = PytorchLegacyFormat.Open(stream, path); format = "legacy format"; }
            else throw new PytorchFormatException($"{path}: not a PyTorch file (neither torch.save's zip format nor its legacy format)");
        }
        catch
        {
            stream.Dispose();
            throw;
        }
        try
        {
            (_byName, FormatDescription) = FindStateDict(root, format);
        }
        catch
        {
            _storages.Dispose();
            throw;
        }
        Tensors = _byName.Select(p => new StoredTensor(p.Key, p.Value.Shape, p.Value.Storage.Type.ElementName,
            p.Value.Storage.Type.FileType?.IsFloating() ?? false)).ToList();
    }

    private (Dictionary<string, PytorchTensor>, string) FindStateDict(object? root, string format)
    {
        if (root is not PickleDict dict)
            throw new PytorchFormatException($"{Path}: holds a {RestrictedUnpickler.Describe(root)}, not a state dict");
        foreach (var entry in s_stateDictEntries)
            if (dict.TryGet(entry, out var inner) && inner is PickleDict innerDict && TensorsOf(innerDict).Count > 0)
                return (TensorsOf(innerDict), $"{format}, '{entry}' entry");
        var tensors = TensorsOf(dict);
        if (tensors.Count == 0)
        {
            var keys = dict.Items.Select(p => p.Key as string ?? RestrictedUnpickler.Describe(p.Key)).Take(8);
            throw new PytorchFormatException($"{Path}: holds no tensors at its top level nor in a 'state_dict' or 'model' entry (top-level keys: {string.Join(", ", keys)})");
        }
        return (tensors, format);
    }

    private static Dictionary<string, PytorchTensor> TensorsOf(PickleDict dict)
    {
        var tensors = new Dictionary<string, PytorchTensor>(StringComparer.Ordinal);
        foreach (var (key, value) in dict.Items)
            if (key is string name && value is PytorchTensor t) tensors[name] = t;
        return tensors;
    }

    private PytorchTensor Find(string name) =>
        _byName.TryGetValue(name, out var t) ? t : throw new KeyNotFoundException($"{Path}: no tensor named '{name}'");

    /// <summary>A new tensor of the stored type's natural tensor type (half types widen to float32, int64 narrows to int32).</summary>
    public Tensor ReadTensor(string name, IBackend? backend = null)
    {
        var type = FileType(name, Find(name));
        var t = Tensor.Empty(Find(name).Shape, type.NaturalTensorType(), backend);
        try
        {
            ReadInto(name, t);
        }
        catch
        {
            t.Dispose();
            throw;
        }
        return t;
    }

    /// <summary>Fills <paramref name="destination"/>, of the stored shape, with the tensor <paramref name="name"/>, converting its type.</summary>
    public void ReadInto(string name, Tensor destination)
    {
        var tensor = Find(name);
        if (tensor.Shape != destination.Shape)
            throw new ShapeMismatchException($"{Path}: tensor '{name}' has shape {tensor.Shape}, the destination {destination.Shape}");
        var type = FileType(name, tensor);
        if (type.IsFloating() != (destination.DType != DType.Int32))
            throw new PytorchFormatException($"{Path}: tensor '{name}' is {tensor.Storage.Type.ElementName}, which cannot be read into a {destination.DType.Name()} tensor");
        var bytes = tensor.Gather(StorageBytes(tensor.Storage));
        ElementConversion.CopyInto(destination, type, bytes,
            value => new PytorchFormatException($"{Path}: tensor '{name}' holds the int64 value {value}, which does not fit an int32 tensor"));
    }

    private SafetensorsDType FileType(string name, PytorchTensor tensor) => tensor.Storage.Type.FileType
        ?? throw new PytorchFormatException($"{Path}: tensor '{name}' is {tensor.Storage.Type.ElementName}, which this program does not read");

    /// <summary>The last storage read is kept: a state dict's views of one storage come one after another.</summary>
    private byte[] StorageBytes(PytorchStorage storage)
    {
        if (_lastStorage is { } last && last.Storage == storage) return last.Bytes;
        var bytes = _storages.Read(storage);
        _lastStorage = (storage, bytes);
        return bytes;
    }

    /// <summary>Closes the file.</summary>
    public void Dispose() => _storages.Dispose();
}
