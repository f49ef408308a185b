using System.Buffers.Binary;

namespace Vicreg.Engine.IO.Pytorch;

/// <summary>
/// The format torch.save wrote before PyTorch 1.6 (and still writes with _use_new_zipfile_serialization=False):
/// four pickles in a row (the magic number 0x1950a86a20f9469cfc6c, the protocol version 1001, a dict of
/// system facts, the object itself), a fifth pickle listing the storage keys, then for each key in that
/// order its length in elements (int64) and its raw bytes.
/// </summary>
internal sealed class PytorchLegacyFormat : IStorageSource
{
    /// <summary>The first pickle: PROTO 2, LONG1 of 10 bytes holding the magic number, STOP.</summary>
    private static readonly byte[] s_magic = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e];
    private const long ProtocolVersion = 1001;

    private readonly Stream _stream;
    private readonly Dictionary<string, long> _offsets;

    private PytorchLegacyFormat(Stream stream, Dictionary<string, long> offsets)
    {
        _stream = stream;
        _offsets = offsets;
    }

    public static bool HasMagic(ReadOnlySpan<byte> head) => head.StartsWith(s_magic.AsSpan(0, 4));

    /// <summary>Reads the pickles and locates every storage; takes the stream.</summary>
    public static (object? Root, IStorageSource Storages) Open(Stream stream, string file)
    {
        var head = new byte[s_magic.Length];
        if (stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false) != head.Length || !head.AsSpan().SequenceEqual(s_magic))
            throw Bad(file, "the magic number is wrong");
        object Refuse(object? _) => throw Bad(file, "a storage in the file's header pickles");
        if (new RestrictedUnpickler(stream, file, Refuse).Load() is not ProtocolVersion)
            throw Bad(file, $"the protocol version is not {ProtocolVersion}");
        if (new RestrictedUnpickler(stream, file, Refuse).Load() is not PickleDict info)
            throw Bad(file, "the system information is not a dict");
        if (info.TryGet("little_endian", out var little) && little is false)
            throw new PytorchFormatException($"{file}: the tensors are stored big-endian; only little-endian files are read");

        var ids = new PytorchStorageId(file, legacy: true);
        var root = new RestrictedUnpickler(stream, file, ids.Resolve).Load();
        if (new RestrictedUnpickler(stream, file, Refuse).Load() is not List<object?> keys)
            throw Bad(file, "the list of storage keys is missing");

        var byKey = ids.Storages.ToDictionary(s => s.Key, StringComparer.Ordinal);
        var offsets = new Dictionary<string, long>(StringComparer.Ordinal);
        Span<byte> count = stackalloc byte[8];
        foreach (var k in keys)
        {
            if (k is not string key || !byKey.TryGetValue(key, out var storage) || offsets.ContainsKey(key))
                throw Bad(file, $"the storage list names {(k is string s ? $"'{s}'" : "a non-string")}, which the pickle does not use or names twice");
            if (stream.ReadAtLeast(count, 8, throwOnEndOfStream: false) != 8) throw Bad(file, $"the file ends before storage '{key}'");
            long numel = BinaryPrimitives.ReadInt64LittleEndian(count);
            if (numel != storage.Numel)
                throw Bad(file, $"storage '{key}' holds {numel} elements but the pickle declares {storage.Numel}");
            if (storage.ByteLength > stream.Length - stream.Position)
                throw Bad(file, $"storage '{key}' needs {storage.ByteLength} bytes but only {stream.Length - stream.Position} remain");
            if (storage.ByteLength > Array.MaxLength)
                throw new PytorchFormatException($"{file}: storage '{key}' has {storage.ByteLength} bytes; storages above {Array.MaxLength} bytes are not supported");
            offsets[key] = stream.Position;
            stream.Seek(storage.ByteLength, SeekOrigin.Current);
        }
        var absent = byKey.Keys.FirstOrDefault(k => !offsets.ContainsKey(k));
        if (absent is not null) throw Bad(file, $"storage '{absent}' is used by the pickle but missing from the storage list");
        return (root, new PytorchLegacyFormat(stream, offsets));
    }

    public byte[] Read(PytorchStorage storage)
    {
        var bytes = new byte[storage.ByteLength];
        _stream.Position = _offsets[storage.Key];
        _stream.ReadExactly(bytes);
        return bytes;
    }

    private static PytorchFormatException Bad(string file, string what) => new($"{file}: not a valid PyTorch file: {what}");

    public void Dispose() => _stream.Dispose();
}
