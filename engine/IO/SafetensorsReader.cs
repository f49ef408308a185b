using System.Buffers.Binary;
using Microsoft.Win32.SafeHandles;

namespace Vicreg.Engine.IO;

/// <summary>
/// An open safetensors file: the header is parsed and checked on opening (offsets inside the file,
/// sizes matching shapes, the data section covered without holes or overlaps), and tensors are read
/// one at a time, straight into a tensor's memory when it lives on the host and types agree.
/// Reading is not a per-step path: conversions use short-lived host buffers.
/// </summary>
public sealed unsafe class SafetensorsReader : ITensorFile
{
    private readonly SafeFileHandle _handle;
    private readonly Dictionary<string, SafetensorsEntry> _byName;
    private readonly long _dataStart;

    public string Path { get; }
    /// <summary>Tensors in the order of their data in the file.</summary>
    public IReadOnlyList<SafetensorsEntry> Entries { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; }
    public string FormatDescription => "safetensors";
    public IReadOnlyList<StoredTensor> Tensors { get; }

    public SafetensorsReader(string path)
    {
        Path = path;
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("safetensors I/O assumes a little-endian machine");
        _handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        try
        {
            long fileLength = RandomAccess.GetLength(_handle);
            Span<byte> prefix = stackalloc byte[8];
            if (fileLength < 8 || RandomAccess.Read(_handle, prefix, 0) != 8)
                throw new SafetensorsFormatException($"{path}: not a valid safetensors file: shorter than the 8-byte header length");
            ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
            if (headerLength < 2 || headerLength > SafetensorsHeader.MaxHeaderBytes || (long)headerLength > fileLength - 8)
                throw new SafetensorsFormatException($"{path}: not a valid safetensors file: header length {headerLength} does not fit a file of {fileLength} bytes");
            var header = new byte[headerLength];
            ReadExactly(header, 8);
            var (entries, metadata) = SafetensorsHeader.Parse(header, path);
            _dataStart = 8 + (long)headerLength;
            CheckCoverage(entries, fileLength - _dataStart, path);
            entries.Sort((a, b) => a.Begin.CompareTo(b.Begin));
            Entries = entries;
            Metadata = metadata;
            _byName = entries.ToDictionary(e => e.Name, StringComparer.Ordinal);
            Tensors = entries.Select(e => new StoredTensor(e.Name, e.Shape, e.DType.HeaderName(), e.DType.IsFloating())).ToList();
        }
        catch
        {
            _handle.Dispose();
            throw;
        }
    }

    /// <summary>The data section must be exactly the concatenation of the tensors (the format forbids holes).</summary>
    private static void CheckCoverage(List<SafetensorsEntry> entries, long dataLength, string path)
    {
        var sorted = entries.OrderBy(e => e.Begin).ThenBy(e => e.End).ToList();
        long position = 0;
        foreach (var e in sorted)
        {
            if (e.Begin != position)
                throw new SafetensorsFormatException($"{path}: not a valid safetensors file: tensor '{e.Name}' starts at byte {e.Begin} of the data, expected {position} (hole or overlap)");
            position = e.End;
        }
        if (position != dataLength)
            throw new SafetensorsFormatException($"{path}: not a valid safetensors file: the tensors cover {position} bytes but the data section has {dataLength}");
    }

    public bool Contains(string name) => _byName.ContainsKey(name);

    public SafetensorsEntry this[string name] =>
        _byName.TryGetValue(name, out var e) ? e : throw new KeyNotFoundException($"{Path}: no tensor named '{name}'");

    public bool TryGetEntry(string name, out SafetensorsEntry entry) => _byName.TryGetValue(name, out entry!);

    /// <summary>A new tensor with the entry's natural type (see <see cref="SafetensorsDTypes.NaturalTensorType"/>).</summary>
    public Tensor ReadTensor(string name, IBackend? backend = null) => ReadTensor(name, this[name].DType.NaturalTensorType(), backend);

    public Tensor ReadTensor(string name, DType dtype, IBackend? backend = null)
    {
        var entry = this[name];
        var t = Tensor.Empty(entry.Shape, dtype, backend);
        try
        {
            ReadInto(entry, t);
        }
        catch
        {
            t.Dispose();
            throw;
        }
        return t;
    }

    /// <summary>Fills an existing tensor of the same shape, converting between floating types (and from
    /// I64 to int32, refusing values that do not fit).</summary>
    public void ReadInto(string name, Tensor destination) => ReadInto(this[name], destination);

    public void ReadInto(SafetensorsEntry entry, Tensor destination)
    {
        if (entry.Shape != destination.Shape)
            throw new ShapeMismatchException($"{Path}: tensor '{entry.Name}' has shape {entry.Shape}, the destination {destination.Shape}");
        bool sourceFloating = entry.DType.IsFloating(), destinationFloating = destination.DType != DType.Int32;
        if (sourceFloating != destinationFloating)
            throw new SafetensorsFormatException($"{Path}: tensor '{entry.Name}' is {entry.DType.HeaderName()}, which cannot be read into a {destination.DType.Name()} tensor");

        // Destination bytes: the tensor's own memory on the host, else a host staging array copied over at the end.
        byte[]? staging = destination.Backend.IsHostMemory ? null : new byte[destination.Bytes];
        var target = staging is null ? new Span<byte>((void*)destination.Data, checked((int)destination.Bytes)) : staging;

        if (ElementConversion.SameLayout(entry.DType, destination.DType))
        {
            ReadExactly(target, _dataStart + entry.Begin);
        }
        else
        {
            // Convert in chunks so that a large tensor never needs a second full-size buffer.
            int sourceSize = entry.DType.SizeInBytes(), targetSize = destination.DType.SizeInBytes();
            const int chunkElements = 1 << 16;
            var chunk = new byte[chunkElements * sourceSize];
            long count = destination.Numel;
            for (long start = 0; start < count; start += chunkElements)
            {
                int n = (int)Math.Min(chunkElements, count - start);
                var src = chunk.AsSpan(0, n * sourceSize);
                ReadExactly(src, _dataStart + entry.Begin + start * sourceSize);
                ElementConversion.Convert(entry.DType, src, destination.DType, target.Slice(checked((int)(start * targetSize)), n * targetSize),
                    value => new SafetensorsFormatException($"{Path}: tensor '{entry.Name}' holds the int64 value {value}, which does not fit an int32 tensor"));
            }
        }
        if (staging is not null) destination.Backend.CopyFromHost(staging, destination);
    }

    private void ReadExactly(Span<byte> destination, long fileOffset)
    {
        while (destination.Length > 0)
        {
            int n = RandomAccess.Read(_handle, destination, fileOffset);
            if (n <= 0) throw new SafetensorsFormatException($"{Path}: not a valid safetensors file: it ends early");
            destination = destination[n..];
            fileOffset += n;
        }
    }

    public void Dispose() => _handle.Dispose();
}
