namespace Vicreg.Engine.IO;

/// <summary>One tensor listed in a safetensors header: its type, shape and byte range within the data
/// section (the bytes after the header).</summary>
public sealed record SafetensorsEntry(string Name, SafetensorsDType DType, Shape Shape, long Begin, long End)
{
    /// <summary>The bytes of its data.</summary>
    public long ByteLength => End - Begin;
}
