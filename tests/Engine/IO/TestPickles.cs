using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace Vicreg.Tests.Engine.IO;

/// <summary>Builds pickles opcode by opcode and wraps them in torch.save's containers, so that tests can make
/// hostile and damaged .pth files without Python (the repository holds no binary test files).</summary>
internal static class TestPickles
{
    public static byte[] Concat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();
    public static byte[] Op(string ascii) => Encoding.Latin1.GetBytes(ascii);
    public static byte[] Global(string module, string name) => Op($"c{module}\n{name}\n");

    public static byte[] Str(string s)
    {
        var utf8 = Encoding.UTF8.GetBytes(s);
        var b = new byte[5 + utf8.Length];
        b[0] = (byte)'X';
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(1), utf8.Length);
        utf8.CopyTo(b, 5);
        return b;
    }

    /// <summary>LONG1 with 8 bytes: any 64-bit integer.</summary>
    public static byte[] Int(long v)
    {
        var b = new byte[10];
        b[0] = 0x8a;
        b[1] = 8;
        BinaryPrimitives.WriteInt64LittleEndian(b.AsSpan(2), v);
        return b;
    }

    public static byte[] Tuple(params byte[][] items) => Concat([Op("("), .. items, Op("t")]);

    /// <summary>The persistent id of a storage (with the legacy format's sixth element when asked).</summary>
    public static byte[] Storage(string key, long numel, string type = "FloatStorage", bool legacy = false) =>
        Concat(Tuple([Str("storage"), Global("torch", type), Str(key), Str("cpu"), Int(numel), .. legacy ? new[] { Op("N") } : []]), Op("Q"));

    /// <summary>torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict()).</summary>
    public static byte[] RebuildTensor(byte[] storage, long offset, long[] sizes, long[] strides) => Concat(
        Global("torch._utils", "_rebuild_tensor_v2"),
        Tuple(storage, Int(offset), Tuple(sizes.Select(Int).ToArray()), Tuple(strides.Select(Int).ToArray()), [0x89],
            Concat(Global("collections", "OrderedDict"), Op(")R"))),
        Op("R"));

    /// <summary>A protocol-2 pickle of {name: value, ...}.</summary>
    public static byte[] Dict(params (string Name, byte[] Value)[] items) =>
        Concat([[0x80, 2], Op("}("), .. items.SelectMany(i => new[] { Str(i.Name), i.Value }), Op("u.")]);

    public static byte[] Floats(params float[] values) => values.SelectMany(BitConverter.GetBytes).ToArray();

    public static void Zip(string path, byte[] pickle, params (string Key, byte[] Data)[] storages) =>
        Zip(path, pickle, CompressionLevel.NoCompression, storages);

    /// <summary>A zip-format .pth whose storage records are written with <paramref name="storageCompression"/>.</summary>
    public static void Zip(string path, byte[] pickle, CompressionLevel storageCompression, params (string Key, byte[] Data)[] storages)
    {
        File.Delete(path);
        using var zip = ZipFile.Open(path, ZipArchiveMode.Create);
        void Add(string name, byte[] bytes, CompressionLevel level = CompressionLevel.NoCompression)
        {
            using var s = zip.CreateEntry("archive/" + name, level).Open();
            s.Write(bytes);
        }
        Add("data.pkl", pickle);
        foreach (var (key, data) in storages) Add("data/" + key, data, storageCompression);
        Add("version", Op("3\n"));
    }

    /// <summary>The legacy format: magic, protocol version, system info, the pickle, the key list, then each storage.</summary>
    public static void Legacy(string path, byte[] pickle, params (string Key, long Numel, byte[] Data)[] storages)
    {
        using var f = File.Create(path);
        f.Write([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e]);
        f.Write(Concat([0x80, 2], Op("M"), [0xe9, 0x03], Op(".")));
        f.Write(Concat([0x80, 2], Op("}"), Str("little_endian"), [0x88], Op("s.")));
        f.Write(pickle);
        f.Write(Concat([[0x80, 2], Op("("), .. storages.Select(s => Str(s.Key)), Op("l.")]));
        foreach (var (_, numel, data) in storages)
        {
            f.Write(BitConverter.GetBytes(numel));
            f.Write(data);
        }
    }
}
