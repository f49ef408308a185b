namespace Vicreg.Engine.IO;

/// <summary>The element types a safetensors header names ("F32", "I64", ...) that this engine reads.
/// Types outside this list (BOOL, U8, F8_*, ...) are reported as unsupported by name.</summary>
public enum SafetensorsDType
{
    /// <summary>64-bit float.</summary>
    F64,
    /// <summary>32-bit float.</summary>
    F32,
    /// <summary>16-bit IEEE half float.</summary>
    F16,
    /// <summary>bfloat16.</summary>
    BF16,
    /// <summary>64-bit integer.</summary>
    I64,
    /// <summary>32-bit integer.</summary>
    I32,
}

/// <summary>Sizes, names and conversions of the safetensors element types.</summary>
public static class SafetensorsDTypes
{
    /// <summary>The bytes one element takes.</summary>
    public static int SizeInBytes(this SafetensorsDType t) => t switch
    {
        SafetensorsDType.F64 or SafetensorsDType.I64 => 8,
        SafetensorsDType.F32 or SafetensorsDType.I32 => 4,
        _ => 2,
    };

    /// <summary>The name a header gives the type ("F32").</summary>
    public static string HeaderName(this SafetensorsDType t) => t switch
    {
        SafetensorsDType.F64 => "F64",
        SafetensorsDType.F32 => "F32",
        SafetensorsDType.F16 => "F16",
        SafetensorsDType.BF16 => "BF16",
        SafetensorsDType.I64 => "I64",
        _ => "I32",
    };

    /// <summary>The type a header names, when this engine reads it.</summary>
    public static bool TryParse(string name, out SafetensorsDType t)
    {
        switch (name)
        {
            case "F64": t = SafetensorsDType.F64; return true;
            case "F32": t = SafetensorsDType.F32; return true;
            case "F16": t = SafetensorsDType.F16; return true;
            case "BF16": t = SafetensorsDType.BF16; return true;
            case "I64": t = SafetensorsDType.I64; return true;
            case "I32": t = SafetensorsDType.I32; return true;
            default: t = default; return false;
        }
    }

    /// <summary>True for the floating types.</summary>
    public static bool IsFloating(this SafetensorsDType t) => t is not (SafetensorsDType.I64 or SafetensorsDType.I32);

    /// <summary>The tensor type a file type lands in when the caller does not choose: half types widen
    /// to float32, and I64 narrows to int32 (checked value by value) since our tensors have no int64.</summary>
    public static DType NaturalTensorType(this SafetensorsDType t) => t switch
    {
        SafetensorsDType.F64 => DType.Float64,
        SafetensorsDType.I64 or SafetensorsDType.I32 => DType.Int32,
        _ => DType.Float32,
    };
}
