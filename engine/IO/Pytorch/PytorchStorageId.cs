namespace Vicreg.Engine.IO.Pytorch;

/// <summary>
/// Reads the persistent id torch.save writes for a storage: ('storage', torch.FloatStorage, key, location,
/// numel) in the zip format, with a sixth element (a view's metadata, None since PyTorch 0.4) in the legacy
/// format. One storage object per key, so that views of one storage share it; a key named twice with
/// another type or length is refused.
/// </summary>
internal sealed class PytorchStorageId(string file, bool legacy)
{
    private readonly Dictionary<string, PytorchStorage> _byKey = new(StringComparer.Ordinal);

    public IReadOnlyCollection<PytorchStorage> Storages => _byKey.Values;

    public PytorchStorage Resolve(object? pid)
    {
        if (pid is not object?[] id || id.Length != (legacy ? 6 : 5) || id[0] is not "storage")
            throw Bad("a persistent id that is not a storage");
        if (id[1] is not PickleGlobal g) throw Bad("a storage whose type is not a class");
        if (g.Kind != PickleGlobalKind.StorageType || !PytorchStorageType.TryParse(g.Name, out var type))
            throw new PytorchFormatException($"{file}: refused: the pickle names {g.FullName} as a storage type, which a state dict does not need (nothing was run)");
        if (id[2] is not string key || key.Length == 0 || key.Length > 64 || !key.All(char.IsAsciiLetterOrDigit))
            throw Bad("a storage key that is not a short name of letters and digits");
        if (id[3] is not string) throw Bad($"storage '{key}' has no location");
        if (id[4] is not long numel || numel < 0) throw Bad($"storage '{key}' has an invalid length");
        if (legacy && id[5] is not null) throw Bad($"storage '{key}' is a view of another storage (PyTorch before 0.4), which is not supported");
        if (_byKey.TryGetValue(key, out var known))
        {
            if (known.Type != type || known.Numel != numel) throw Bad($"storage '{key}' is declared twice, differently");
            return known;
        }
        var storage = new PytorchStorage(type, key, numel);
        try
        {
            _ = storage.ByteLength;
        }
        catch (OverflowException)
        {
            throw Bad($"storage '{key}' declares {numel} elements, more than a 64-bit length holds");
        }
        _byKey[key] = storage;
        return storage;
    }

    private PytorchFormatException Bad(string what) => new($"{file}: not a valid PyTorch file: {what}");
}
