using System.IO.Compression;
using System.Text;

namespace Vicreg.Engine.IO.Pytorch;

/// <summary>
/// The zip format torch.save writes since PyTorch 1.6: a folder (the file's stem, or "archive") holding
/// data.pkl, one record data/KEY per storage (stored uncompressed), version and, since 1.10, byteorder.
/// </summary>
internal sealed class PytorchZipFormat : IStorageSource
{
    /// <summary>A state dict's pickle is some hundred kilobytes; a larger one is refused before it is read.</summary>
    private const long MaxPickleBytes = 256L << 20;

    private readonly ZipArchive _archive;
    private readonly string _root;
    private readonly string _file;
    private readonly long _archiveLength;

    private PytorchZipFormat(ZipArchive archive, string root, string file, long archiveLength)
    {
        _archive = archive;
        _root = root;
        _file = file;
        _archiveLength = archiveLength;
    }

    public static bool HasMagic(ReadOnlySpan<byte> head) => head.StartsWith((ReadOnlySpan<byte>)[0x50, 0x4b, 0x03, 0x04]);

    /// <summary>Reads the pickle and checks every storage it names against the records; takes the stream.</summary>
    public static (object? Root, IStorageSource Storages) Open(Stream stream, string file)
    {
        long length = stream.Length;
        var archive = Guard(file, () => new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: false));
        try
        {
            var pickles = Guard(file, () => archive.Entries.Where(e => e.FullName.EndsWith("/data.pkl", StringComparison.Ordinal)
                                                                      && e.FullName.IndexOf('/') == e.FullName.Length - "/data.pkl".Length).ToList());
            if (pickles.Count != 1)
                throw new PytorchFormatException($"{file}: not a PyTorch file: a zip archive with {(pickles.Count == 0 ? "no" : pickles.Count.ToString())} FOLDER/data.pkl record{(pickles.Count > 1 ? "s" : "")}");
            string root = pickles[0].FullName[..^"data.pkl".Length];
            var format = new PytorchZipFormat(archive, root, file, length);
            format.CheckByteOrder();
            var pickle = format.ReadRecord(pickles[0], pickles[0].Length <= MaxPickleBytes ? pickles[0].Length : throw new PytorchFormatException(
                $"{file}: not a valid PyTorch file: data.pkl declares {pickles[0].Length} bytes (a state dict's pickle is far smaller)"));
            var ids = new PytorchStorageId(file, legacy: false);
            using var input = new MemoryStream(pickle, writable: false);
            var root0 = new RestrictedUnpickler(input, file, pid => format.Check(ids.Resolve(pid))).Load();
            return (root0, format);
        }
        catch
        {
            archive.Dispose();
            throw;
        }
    }

    /// <summary>Torch writes "little" or "big"; without the record the file predates it and is little-endian.</summary>
    private void CheckByteOrder()
    {
        var entry = Guard(_file, () => _archive.GetEntry(_root + "byteorder"));
        if (entry is null) return;
        if (entry.Length > 16) throw new PytorchFormatException($"{_file}: not a valid PyTorch file: the byteorder record has {entry.Length} bytes");
        string order = Encoding.ASCII.GetString(ReadRecord(entry, entry.Length)).Trim();
        if (order != "little") throw new PytorchFormatException($"{_file}: the tensors are stored {order}-endian; only little-endian files are read");
    }

    private PytorchStorage Check(PytorchStorage storage)
    {
        var entry = Guard(_file, () => _archive.GetEntry(_root + "data/" + storage.Key))
            ?? throw new PytorchFormatException($"{_file}: not a valid PyTorch file: storage '{storage.Key}' has no record {_root}data/{storage.Key}");
        CheckStored(entry);
        if (entry.Length != storage.ByteLength)
            throw new PytorchFormatException($"{_file}: not a valid PyTorch file: storage '{storage.Key}' declares {storage.Numel} {storage.Type.ElementName} elements ({storage.ByteLength} bytes) but its record holds {entry.Length} bytes");
        if (storage.ByteLength > Array.MaxLength)
            throw new PytorchFormatException($"{_file}: storage '{storage.Key}' has {storage.ByteLength} bytes; storages above {Array.MaxLength} bytes are not supported");
        return storage;
    }

    public byte[] Read(PytorchStorage storage)
    {
        var entry = Guard(_file, () => _archive.GetEntry(_root + "data/" + storage.Key))!;
        return ReadRecord(entry, storage.ByteLength);
    }

    /// <summary>torch.save stores every record uncompressed, so a record can never be longer than the file: checking
    /// that first means a damaged or hostile directory cannot make us allocate more than the file's size.</summary>
    private void CheckStored(ZipArchiveEntry entry)
    {
        if (entry.CompressedLength != entry.Length || entry.Length > _archiveLength)
            throw new PytorchFormatException($"{_file}: not a valid PyTorch file: record {entry.FullName} is compressed or longer than the file (torch.save stores records uncompressed)");
    }

    private byte[] ReadRecord(ZipArchiveEntry entry, long length)
    {
        CheckStored(entry);
        var bytes = new byte[length];
        Guard(_file, () =>
        {
            using var s = entry.Open();
            s.ReadExactly(bytes);
            return 0;
        });
        return bytes;
    }

    /// <summary>A damaged archive surfaces from System.IO.Compression as one of these; each becomes one line naming the file.</summary>
    private static T Guard<T>(string file, Func<T> zip)
    {
        try
        {
            return zip();
        }
        catch (Exception e) when (e is InvalidDataException or (IOException and not WeightsFormatException) or NotSupportedException or ArgumentException)
        {
            throw new PytorchFormatException($"{file}: not a valid PyTorch file: damaged zip archive ({e.Message})");
        }
    }

    public void Dispose() => _archive.Dispose();
}
