using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
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

    /// <summary>The file's path.</summary>
    public string Path { get; }
    /// <summary>Tensors in the order of their data in the file.</summary>
    public IReadOnlyList<SafetensorsEntry> Entries { get; }
    /// <summary>The header's __metadata__ (empty when it has none).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }
    /// <summary>"safetensors".</summary>
    public string FormatDescription => "safetensors";
    /// <summary>The tensors the header lists.</summary>
    public IReadOnlyList<StoredTensor> Tensors { get; }

    /// <summary>Opens the file and checks its header; a <see cref="SafetensorsFormatException"/> (one line) when it is not a valid safetensors file.</summary>
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

    /// <summary>Reads the whole data section and compares its SHA-256 with the one the header carries;
    /// a file without one, or whose data differs, is refused.</summary>
    public void VerifyChecksum()
    {
        if (!Metadata.TryGetValue(SafetensorsHeader.ChecksumKey, out var expected))
            throw new SafetensorsFormatException($"{Path}: has no data checksum ({SafetensorsHeader.ChecksumKey})");
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var chunk = new byte[1 << 20];
        long length = RandomAccess.GetLength(_handle);
        for (long offset = _dataStart; offset < length;)
        {
            int n = (int)Math.Min(chunk.Length, length - offset);
            ReadExactly(chunk.AsSpan(0, n), offset);
            hash.AppendData(chunk.AsSpan(0, n));
            offset += n;
        }
        string actual = System.Convert.ToHexStringLower(hash.GetHashAndReset());
        if (!string.Equals(actual, expected, StringComparison.Ordinal))
            throw new SafetensorsFormatException($"{Path}: the data does not match its checksum (the file is damaged or was altered)");
    }

    /// <summary>True when the file holds a tensor named <paramref name="name"/>.</summary>
    public bool Contains(string name) => _byName.ContainsKey(name);

    /// <summary>The entry named <paramref name="name"/>; a <see cref="KeyNotFoundException"/> naming the file otherwise.</summary>
    public SafetensorsEntry this[string name] =>
        _byName.TryGetValue(name, out var e) ? e : throw new KeyNotFoundException($"{Path}: no tensor named '{name}'");

    /// <summary>The entry named <paramref name="name"/>, when the file holds one.</summary>
    public bool TryGetEntry(string name, out SafetensorsEntry entry) => _byName.TryGetValue(name, out entry!);

    /// <summary>A new tensor with the entry's natural type (see <see cref="SafetensorsDTypes.NaturalTensorType"/>).</summary>
    public Tensor ReadTensor(string name, IBackend? backend = null) => ReadTensor(name, this[name].DType.NaturalTensorType(), backend);

    /// <summary>A new tensor of type <paramref name="dtype"/> on <paramref name="backend"/> (the default when null) holding the entry's values.</summary>
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

    /// <summary>Fills an existing tensor of the entry's shape, converting between floating types (and from I64 to int32, refusing values that do not fit).</summary>
    public void ReadInto(SafetensorsEntry entry, Tensor destination)
    {
        if (entry.Shape != destination.Shape)
            throw new ShapeMismatchException($"{Path}: tensor '{entry.Name}' has shape {entry.Shape}, the destination {destination.Shape}");
        bool sourceFloating = entry.DType.IsFloating(), destinationFloating = destination.DType != DType.Int32;
        if (sourceFloating != destinationFloating)
            throw new SafetensorsFormatException($"{Path}: tensor '{entry.Name}' is {entry.DType.HeaderName()}, which cannot be read into a {destination.DType.Name()} tensor");

        if (destination.Numel == 0) return;
        if (destination.Backend.IsHostMemory)
        {
            ReadElements(entry, (byte*)destination.Data, 0, destination.Numel, destination.DType);
            return;
        }
        // A device tensor is filled a block of whole rows at a time through one host staging array.
        int targetSize = destination.DType.SizeInBytes();
        long rows = destination.Rank == 0 ? 1 : destination.Shape[0];
        long rowElements = destination.Numel / rows;
        if (rowElements * targetSize > StagingBytes)
            throw new SafetensorsFormatException($"{Path}: tensor '{entry.Name}' {entry.Shape} has rows of {rowElements * targetSize} bytes, above the {StagingBytes}-byte staging limit of a device copy");
        int rowsPerBlock = (int)Math.Min(rows, StagingBytes / (rowElements * targetSize));
        var staging = new byte[rowsPerBlock * rowElements * targetSize];
        fixed (byte* stagingPointer = staging)
        {
            for (int row = 0; row < rows; row += rowsPerBlock)
            {
                int n = (int)Math.Min(rowsPerBlock, rows - row);
                int bytes = checked((int)(n * rowElements * targetSize));
                ReadElements(entry, stagingPointer, row * rowElements, n * rowElements, destination.DType);
                if (destination.Rank == 0)
                {
                    destination.Backend.CopyFromHost(staging.AsSpan(0, bytes), destination);
                    continue;
                }
                using var block = destination.NarrowView(row, n);
                destination.Backend.CopyFromHost(staging.AsSpan(0, bytes), block);
            }
        }
    }

    /// <summary>The largest single read, and the largest host staging array of a device copy: spans hold at
    /// most 2 GiB, and tensors may be larger.</summary>
    internal const int StagingBytes = 1 << 30;

    /// <summary>Elements [first, first + count) of the entry, converted to <paramref name="dtype"/>, to <paramref name="target"/>.</summary>
    private void ReadElements(SafetensorsEntry entry, byte* target, long first, long count, DType dtype)
    {
        int sourceSize = entry.DType.SizeInBytes(), targetSize = dtype.SizeInBytes();
        long fileOffset = _dataStart + entry.Begin + first * sourceSize;
        if (ElementConversion.SameLayout(entry.DType, dtype))
        {
            for (long done = 0, total = count * targetSize; done < total;)
            {
                int n = (int)Math.Min(StagingBytes, total - done);
                ReadExactly(new Span<byte>(target + done, n), fileOffset + done);
                done += n;
            }
            return;
        }
        // Convert in chunks so that a large tensor never needs a second full-size buffer.
        const int chunkElements = 1 << 16;
        var chunk = new byte[chunkElements * sourceSize];
        for (long start = 0; start < count; start += chunkElements)
        {
            int n = (int)Math.Min(chunkElements, count - start);
            var src = chunk.AsSpan(0, n * sourceSize);
            ReadExactly(src, fileOffset + start * sourceSize);
            ElementConversion.Convert(entry.DType, src, dtype, new Span<byte>(target + start * targetSize, n * targetSize),
                value => new SafetensorsFormatException($"{Path}: tensor '{entry.Name}' holds the int64 value {value}, which does not fit an int32 tensor"));
        }
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

    /// <summary>Closes the file.</summary>
    public void Dispose() => _handle.Dispose();
}
