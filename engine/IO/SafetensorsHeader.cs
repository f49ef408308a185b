using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Unicode;

namespace Vicreg.Engine.IO;

/// <summary>
/// The JSON header of a safetensors file, read with <see cref="Utf8JsonReader"/> and written with
/// <see cref="Utf8JsonWriter"/> (no reflection, so trimming and NativeAOT stay safe):
/// <c>{"__metadata__": {"k": "v"}, "name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}, ...}</c>.
/// </summary>
internal static class SafetensorsHeader
{
    public const string MetadataKey = "__metadata__";

    /// <summary>Metadata key of the data section's SHA-256 (lower-case hex), written on request and checked
    /// by <see cref="SafetensorsReader.VerifyChecksum"/>; other readers ignore it.</summary>
    public const string ChecksumKey = "data_sha256";

    /// <summary>The Rust implementation refuses headers above 100 MB; so do we (a corrupt length is caught early).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    public static (List<SafetensorsEntry> Entries, Dictionary<string, string> Metadata) Parse(ReadOnlySpan<byte> json, string file)
    {
        var entries = new List<SafetensorsEntry>();
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        var names = new HashSet<string>(StringComparer.Ordinal);
        // The reader leaves UTF-8 inside strings to GetString, which would throw its own exception type.
        if (!Utf8.IsValid(json)) throw Bad(file, "the header is not valid UTF-8");
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow });
        try
        {
            Expect(ref reader, JsonTokenType.StartObject, file, "the header must be a JSON object");
            while (true)
            {
                Read(ref reader, file);
                if (reader.TokenType == JsonTokenType.EndObject) break;
                string name = reader.GetString()!;
                if (!names.Add(name)) throw Bad(file, $"'{name}' appears twice in the header");
                if (name == MetadataKey) ReadMetadata(ref reader, metadata, file);
                else entries.Add(ReadEntry(ref reader, name, file));
            }
            // Trailing spaces are the alignment padding; anything else after the object is an error.
            if (reader.Read()) throw Bad(file, "unexpected content after the header object");
        }
        catch (JsonException e)
        {
            throw Bad(file, $"the header is not valid JSON ({e.Message})");
        }
        catch (InvalidOperationException e)
        {
            // An escaped lone surrogate ("\udc00") is valid JSON but not a string .NET can hold.
            throw Bad(file, $"the header holds a string that is not valid Unicode ({e.Message})");
        }
        return (entries, metadata);
    }

    private static void ReadMetadata(ref Utf8JsonReader reader, Dictionary<string, string> metadata, string file)
    {
        Expect(ref reader, JsonTokenType.StartObject, file, "__metadata__ must be an object of strings");
        while (true)
        {
            Read(ref reader, file);
            if (reader.TokenType == JsonTokenType.EndObject) return;
            string key = reader.GetString()!;
            Expect(ref reader, JsonTokenType.String, file, $"__metadata__ value of '{key}' must be a string");
            metadata[key] = reader.GetString()!;
        }
    }

    private static SafetensorsEntry ReadEntry(ref Utf8JsonReader reader, string name, string file)
    {
        Expect(ref reader, JsonTokenType.StartObject, file, $"tensor '{name}' must be described by an object");
        string? dtypeName = null;
        List<long>? shape = null;
        List<long>? offsets = null;
        while (true)
        {
            Read(ref reader, file);
            if (reader.TokenType == JsonTokenType.EndObject) break;
            string key = reader.GetString()!;
            switch (key)
            {
                case "dtype":
                    Expect(ref reader, JsonTokenType.String, file, $"dtype of '{name}' must be a string");
                    dtypeName = reader.GetString();
                    break;
                case "shape":
                    shape = ReadIntegers(ref reader, file, $"shape of '{name}'");
                    break;
                case "data_offsets":
                    offsets = ReadIntegers(ref reader, file, $"data_offsets of '{name}'");
                    break;
                default:
                    throw Bad(file, $"tensor '{name}' has an unknown field '{key}'");
            }
        }
        if (dtypeName is null || shape is null || offsets is null)
            throw Bad(file, $"tensor '{name}' needs dtype, shape and data_offsets");
        if (!SafetensorsDTypes.TryParse(dtypeName, out var dtype))
            throw Bad(file, $"tensor '{name}' has dtype {dtypeName}, which this program does not read (F32, F64, F16, BF16, I32, I64)");
        if (offsets.Count != 2 || offsets[0] < 0 || offsets[1] < offsets[0])
            throw Bad(file, $"tensor '{name}' has invalid data_offsets");
        if (shape.Count > Shape.MaxRank)
            throw Bad(file, $"tensor '{name}' has {shape.Count} dimensions; at most {Shape.MaxRank} are supported");
        Span<int> dims = stackalloc int[shape.Count];
        for (int i = 0; i < shape.Count; i++)
        {
            if (shape[i] < 0 || shape[i] > int.MaxValue) throw Bad(file, $"tensor '{name}' has an invalid dimension {shape[i]}");
            dims[i] = (int)shape[i];
        }
        // The byte count must not wrap: a wrapped product could match a small data range and give a
        // tensor whose shape promises far more memory than its buffer holds.
        long bytes = dtype.SizeInBytes();
        try
        {
            for (int i = 0; i < shape.Count; i++) bytes = checked(bytes * shape[i]);
        }
        catch (OverflowException)
        {
            throw Bad(file, $"tensor '{name}' ({dtypeName} {new Shape(dims)}) is larger than any file can hold");
        }
        if (bytes != offsets[1] - offsets[0])
            throw Bad(file, $"tensor '{name}' ({dtypeName} {new Shape(dims)}) needs {bytes} bytes but data_offsets span {offsets[1] - offsets[0]}");
        return new SafetensorsEntry(name, dtype, new Shape(dims), offsets[0], offsets[1]);
    }

    private static List<long> ReadIntegers(ref Utf8JsonReader reader, string file, string what)
    {
        Expect(ref reader, JsonTokenType.StartArray, file, $"{what} must be an array of integers");
        var list = new List<long>();
        while (true)
        {
            Read(ref reader, file);
            if (reader.TokenType == JsonTokenType.EndArray) return list;
            if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt64(out long v))
                throw Bad(file, $"{what} must be an array of integers");
            list.Add(v);
        }
    }

    private static void Read(ref Utf8JsonReader reader, string file)
    {
        if (!reader.Read()) throw Bad(file, "the header ends early");
    }

    private static void Expect(ref Utf8JsonReader reader, JsonTokenType type, string file, string what)
    {
        Read(ref reader, file);
        if (reader.TokenType != type) throw Bad(file, what);
    }

    private static SafetensorsFormatException Bad(string file, string what) => new($"{file}: not a valid safetensors file: {what}");

    /// <summary>The header bytes, padded with spaces so that the data section starts at a multiple of 8
    /// (as the Rust writer does: 8-byte length + header is then 8-aligned).</summary>
    public static byte[] Serialize(IReadOnlyList<SafetensorsEntry> entries, IReadOnlyDictionary<string, string>? metadata)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                w.WriteStartObject(MetadataKey);
                foreach (var (k, v) in metadata.OrderBy(p => p.Key, StringComparer.Ordinal)) w.WriteString(k, v);
                w.WriteEndObject();
            }
            foreach (var e in entries)
            {
                w.WriteStartObject(e.Name);
                w.WriteString("dtype", e.DType.HeaderName());
                w.WriteStartArray("shape");
                for (int i = 0; i < e.Shape.Rank; i++) w.WriteNumberValue(e.Shape[i]);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(e.Begin);
                w.WriteNumberValue(e.End);
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }
        int length = buffer.WrittenCount;
        int padded = (length + 7) / 8 * 8;
        var bytes = new byte[padded];
        buffer.WrittenSpan.CopyTo(bytes);
        bytes.AsSpan(length).Fill((byte)' ');
        return bytes;
    }
}
