using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;

namespace Vicreg.Engine.IO;

/// <summary>
/// Writes named tensors as a safetensors file that PyTorch's safetensors (and torch.frombuffer on the
/// parsed header) reads. The write is atomic (<see cref="AtomicFile"/>): an interrupted write never
/// replaces a good file with a broken one.
/// </summary>
public static unsafe class SafetensorsWriter
{
    /// <summary>Int32 tensors whose name ends so are written as I64, the type PyTorch gives BatchNorm's
    /// counter, so that torchvision's load_state_dict restores it with its own type.</summary>
    public const string Int64Suffix = "num_batches_tracked";

    /// <summary>Writes the file; with <paramref name="checksum"/>, the metadata also carries the SHA-256 of the
    /// data section under <see cref="SafetensorsHeader.ChecksumKey"/> (see <see cref="SafetensorsReader.VerifyChecksum"/>).</summary>
    public static void Write(string path, IEnumerable<(string Name, Tensor Tensor)> tensors, IReadOnlyDictionary<string, string>? metadata = null,
        bool checksum = false)
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
        // The checksum is known only once the data is written: the header holds a placeholder of the
        // digest's length, overwritten in place at the end, so the header length never changes.
        var allMetadata = metadata;
        if (checksum)
        {
            var withChecksum = new Dictionary<string, string>(metadata ?? new Dictionary<string, string>(), StringComparer.Ordinal);
            withChecksum[SafetensorsHeader.ChecksumKey] = ChecksumPlaceholder;
            allMetadata = withChecksum;
        }
        byte[] header = SafetensorsHeader.Serialize(entries, allMetadata);
        int checksumAt = checksum ? PlaceholderPosition(header) : -1;

        AtomicFile.Write(path, "safetensors", stream =>
        {
            Span<byte> prefix = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
            stream.Write(prefix);
            stream.Write(header);
            using var hash = checksum ? IncrementalHash.CreateHash(HashAlgorithmName.SHA256) : null;
            foreach (var (_, tensor, type) in ordered) WriteData(stream, hash, tensor, type);
            if (hash is not null)
            {
                stream.Position = 8 + checksumAt;
                stream.Write(Encoding.ASCII.GetBytes(Convert.ToHexStringLower(hash.GetHashAndReset())));
            }
        });
    }

    /// <summary>The temporary file a write goes through: hidden, beside the destination, named after the writing process.</summary>
    public static string TemporaryName(string fileName, int processId, Guid id) => $".{fileName}.{processId}.{id:N}.tmp";

    /// <summary>
    /// Deletes the temporary files in <paramref name="directory"/> that writers killed mid-write (kill -9, power
    /// loss) left behind: those whose process is no longer running. A live process's temporary is a write
    /// in progress and is kept. Returns the names of the deleted files.
    /// </summary>
    public static IReadOnlyList<string> RemoveStaleTemporaries(string directory)
    {
        var removed = new List<string>();
        foreach (var path in Directory.EnumerateFiles(directory, ".*.tmp"))
        {
            string name = System.IO.Path.GetFileName(path);
            var parts = name.Split('.');
            // "", file name parts..., pid, guid, "tmp"
            if (parts.Length < 5 || !int.TryParse(parts[^3], NumberStyles.None, CultureInfo.InvariantCulture, out int pid)
                || !Guid.TryParseExact(parts[^2], "N", out _) || IsRunning(pid))
                continue;
            try
            {
                File.Delete(path);
                removed.Add(name);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Another process cleaned it first, or the folder is read-only: nothing to do.
            }
        }
        return removed;
    }

    private static bool IsRunning(int pid)
    {
        if (pid == Environment.ProcessId) return true;
        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false; // no such process
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    private static readonly string ChecksumPlaceholder = new('0', 64);

    private static int PlaceholderPosition(byte[] header)
    {
        byte[] field = Encoding.UTF8.GetBytes($"\"{SafetensorsHeader.ChecksumKey}\":\"{ChecksumPlaceholder}\"");
        return header.AsSpan().IndexOf(field) + field.Length - 1 - ChecksumPlaceholder.Length;
    }

    private static SafetensorsDType FileType(string name, Tensor t) => t.DType switch
    {
        DType.Float32 => SafetensorsDType.F32,
        DType.Float64 => SafetensorsDType.F64,
        _ => name.EndsWith(Int64Suffix, StringComparison.Ordinal) ? SafetensorsDType.I64 : SafetensorsDType.I32,
    };

    private static void WriteData(Stream stream, IncrementalHash? hash, Tensor t, SafetensorsDType type)
    {
        void Write(ReadOnlySpan<byte> bytes)
        {
            stream.Write(bytes);
            hash?.AppendData(bytes);
        }

        if (t.Numel == 0) return;
        if (type == SafetensorsDType.I64)
        {
            var values = t.ToArray<int>();
            var wide = new long[values.Length];
            for (int i = 0; i < values.Length; i++) wide[i] = values[i];
            Write(MemoryMarshal.AsBytes(wide.AsSpan()));
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
                Write(new ReadOnlySpan<byte>(p, n));
                p += n;
                remaining -= n;
            }
            return;
        }
        var staging = new byte[t.Bytes];
        t.Backend.CopyToHost(t, staging);
        Write(staging);
    }
}
