using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Vicreg.Engine.IO;

/// <summary>
/// Writes named tensors as a safetensors file that PyTorch's safetensors (and torch.frombuffer on the
/// parsed header) reads. The write is atomic: everything goes to a temporary file in the same folder,
/// which is flushed to disk and then moved over the destination, so an interrupted write never
/// replaces a good file with a broken one.
/// </summary>
public static unsafe class SafetensorsWriter
{
    /// <summary>Int32 tensors whose name ends so are written as I64, the type PyTorch gives BatchNorm's
    /// counter, so that torchvision's load_state_dict restores it with its own type.</summary>
    public const string Int64Suffix = "num_batches_tracked";

    public static void Write(string path, IEnumerable<(string Name, Tensor Tensor)> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("safetensors I/O assumes a little-endian machine");
        var list = tensors.ToList();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, _) in list)
        {
            if (string.IsNullOrEmpty(name) || name == SafetensorsHeader.MetadataKey)
                throw new ArgumentException($"safetensors: invalid tensor name '{name}'");
            if (!seen.Add(name)) throw new ArgumentException($"safetensors: tensor name '{name}' given twice");
        }

        // Lay the data out by element size, widest first (stable otherwise), as the Rust writer does:
        // every tensor then starts at a multiple of its own element size within the 8-aligned data section.
        var ordered = list.Select(p => (p.Name, p.Tensor, Type: FileType(p.Name, p.Tensor)))
            .OrderByDescending(p => p.Type.SizeInBytes()).ToList();
        var entries = new List<SafetensorsEntry>(ordered.Count);
        long offset = 0;
        foreach (var (name, tensor, type) in ordered)
        {
            long bytes = tensor.Numel * type.SizeInBytes();
            entries.Add(new SafetensorsEntry(name, type, tensor.Shape, offset, offset + bytes));
            offset += bytes;
        }
        byte[] header = SafetensorsHeader.Serialize(entries, metadata);

        string fullPath = System.IO.Path.GetFullPath(path);
        string directory = System.IO.Path.GetDirectoryName(fullPath)!;
        if (!Directory.Exists(directory)) throw new DirectoryNotFoundException($"safetensors: the folder {directory} does not exist");
        string temporary = System.IO.Path.Combine(directory, $".{System.IO.Path.GetFileName(fullPath)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
            {
                Span<byte> prefix = stackalloc byte[8];
                BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
                stream.Write(prefix);
                stream.Write(header);
                foreach (var (_, tensor, type) in ordered) WriteData(stream, tensor, type);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temporary, fullPath, overwrite: true);
        }
        catch
        {
            try { File.Delete(temporary); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
    }

    private static SafetensorsDType FileType(string name, Tensor t) => t.DType switch
    {
        DType.Float32 => SafetensorsDType.F32,
        DType.Float64 => SafetensorsDType.F64,
        _ => name.EndsWith(Int64Suffix, StringComparison.Ordinal) ? SafetensorsDType.I64 : SafetensorsDType.I32,
    };

    private static void WriteData(Stream stream, Tensor t, SafetensorsDType type)
    {
        if (t.Numel == 0) return;
        if (type == SafetensorsDType.I64)
        {
            var values = t.ToArray<int>();
            var wide = new long[values.Length];
            for (int i = 0; i < values.Length; i++) wide[i] = values[i];
            stream.Write(MemoryMarshal.AsBytes(wide.AsSpan()));
            return;
        }
        if (t.Backend.IsHostMemory)
        {
            // Straight from native memory, in pieces so that tensors above 2 GB work too.
            byte* p = (byte*)t.Data;
            long remaining = t.Bytes;
            while (remaining > 0)
            {
                int n = (int)Math.Min(remaining, 1 << 30);
                stream.Write(new ReadOnlySpan<byte>(p, n));
                p += n;
                remaining -= n;
            }
            return;
        }
        var staging = new byte[t.Bytes];
        t.Backend.CopyToHost(t, staging);
        stream.Write(staging);
    }
}
