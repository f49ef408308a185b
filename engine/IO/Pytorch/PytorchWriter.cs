using System.Buffers.Binary;
using System.IO.Compression;
using System.Runtime.InteropServices;
using System.Text;

namespace Vicreg.Engine.IO.Pytorch;

/// <summary>
/// Writes named tensors as torch.save writes a state dict in its zip format: archive/data.pkl (a protocol-2
/// pickle of an OrderedDict of torch._utils._rebuild_tensor_v2 calls, nothing else, so that
/// torch.load(f, weights_only=True) accepts it), one stored record archive/data/N per tensor, archive/byteorder
/// and archive/version. Float32 tensors become FloatStorage, float64 DoubleStorage, int32 IntStorage except
/// BatchNorm's counters (<see cref="SafetensorsWriter.Int64Suffix"/>), which become LongStorage as in PyTorch.
/// The write goes through a temporary file moved over the destination, as <see cref="SafetensorsWriter"/> does.
/// </summary>
public static class PytorchWriter
{
    private const string Root = "archive/";

    /// <summary>Writes <paramref name="tensors"/> as a state dict (an OrderedDict of tensors) in torch.save's zip format, all or nothing.</summary>
    public static void Write(string path, IEnumerable<(string Name, Tensor Tensor)> tensors)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("PyTorch file I/O assumes a little-endian machine");
        var list = tensors.Select(p => (p.Name, p.Tensor, Type: FileType(p.Name, p.Tensor))).ToList();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, _, _) in list)
            if (string.IsNullOrEmpty(name) || !seen.Add(name)) throw new ArgumentException($"pth: tensor name '{name}' is empty or given twice");

        AtomicFile.Write(path, "pth", stream =>
        {
            using var zip = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true);
            // data.pkl comes first: PyTorch's reader takes the archive's folder name from the first record.
            Record(zip, "data.pkl", Pickle(list));
            Record(zip, "byteorder", "little"u8.ToArray());
            for (int i = 0; i < list.Count; i++) Record(zip, $"data/{i}", Bytes(list[i].Tensor, list[i].Type));
            Record(zip, "version", "3\n"u8.ToArray());
        });
    }

    private static SafetensorsDType FileType(string name, Tensor t) => t.DType switch
    {
        DType.Float32 => SafetensorsDType.F32,
        DType.Float64 => SafetensorsDType.F64,
        _ => name.EndsWith(SafetensorsWriter.Int64Suffix, StringComparison.Ordinal) ? SafetensorsDType.I64 : SafetensorsDType.I32,
    };

    private static void Record(ZipArchive zip, string name, byte[] bytes)
    {
        var entry = zip.CreateEntry(Root + name, CompressionLevel.NoCompression);
        using var s = entry.Open();
        s.Write(bytes);
    }

    private static byte[] Bytes(Tensor t, SafetensorsDType type)
    {
        if (type == SafetensorsDType.I64) return MemoryMarshal.AsBytes(t.ToArray<int>().Select(v => (long)v).ToArray().AsSpan()).ToArray();
        var bytes = new byte[t.Bytes];
        t.Backend.CopyToHost(t, bytes);
        return bytes;
    }

    /// <summary>The pickle torch.save emits for a state dict, minus the memo (which is optional).</summary>
    private static byte[] Pickle(List<(string Name, Tensor Tensor, SafetensorsDType Type)> tensors)
    {
        var p = new MemoryStream();
        p.Write([0x80, 2]); // PROTO 2
        Global(p, "collections", "OrderedDict");
        p.Write(")R("u8); // EMPTY_TUPLE REDUCE MARK
        for (int i = 0; i < tensors.Count; i++)
        {
            var (name, tensor, type) = tensors[i];
            String(p, name);
            Global(p, "torch._utils", "_rebuild_tensor_v2");
            p.Write("(("u8); // the arguments' MARK, the persistent id's MARK
            String(p, "storage");
            Global(p, "torch", PytorchStorageType.For(type).Name);
            String(p, i.ToString(System.Globalization.CultureInfo.InvariantCulture));
            String(p, "cpu");
            Int(p, tensor.Numel);
            p.Write("tQ"u8); // TUPLE BINPERSID
            Int(p, 0); // storage offset
            p.WriteByte((byte)'(');
            for (int d = 0; d < tensor.Rank; d++) Int(p, tensor.Shape[d]);
            p.WriteByte((byte)'t');
            p.WriteByte((byte)'(');
            long stride = 1;
            var strides = new long[tensor.Rank];
            for (int d = tensor.Rank - 1; d >= 0; d--) { strides[d] = stride; stride *= tensor.Shape[d]; }
            foreach (long s in strides) Int(p, s);
            p.WriteByte((byte)'t');
            p.WriteByte(0x89); // NEWFALSE: requires_grad
            Global(p, "collections", "OrderedDict");
            p.Write(")R"u8); // backward hooks: an empty OrderedDict
            p.Write("tR"u8); // the arguments' TUPLE, REDUCE
        }
        p.Write("u."u8); // SETITEMS STOP
        return p.ToArray();
    }

    private static void Global(Stream p, string module, string name) => p.Write(Encoding.ASCII.GetBytes($"c{module}\n{name}\n"));

    private static void String(Stream p, string s)
    {
        var utf8 = Encoding.UTF8.GetBytes(s);
        Span<byte> header = [(byte)'X', 0, 0, 0, 0];
        BinaryPrimitives.WriteInt32LittleEndian(header[1..], utf8.Length);
        p.Write(header);
        p.Write(utf8);
    }

    /// <summary>BININT for what fits 32 bits, else LONG1 with 8 bytes.</summary>
    private static void Int(Stream p, long v)
    {
        Span<byte> b = stackalloc byte[10];
        if (v is >= int.MinValue and <= int.MaxValue)
        {
            b[0] = (byte)'J';
            BinaryPrimitives.WriteInt32LittleEndian(b[1..], (int)v);
            p.Write(b[..5]);
            return;
        }
        b[0] = 0x8a;
        b[1] = 8;
        BinaryPrimitives.WriteInt64LittleEndian(b[2..], v);
        p.Write(b);
    }
}
