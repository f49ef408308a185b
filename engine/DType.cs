namespace Vicreg.Engine;

/// <summary>Element types. Float32 is the training type; Float64 exists on the CPU so that every
/// backward can be checked against finite differences in double precision; Int32 holds labels
/// and pooling indices.</summary>
public enum DType
{
    Float32,
    Float64,
    Int32,
}

public static class DTypeExtensions
{
    public static int SizeInBytes(this DType dtype) => dtype switch
    {
        DType.Float32 => 4,
        DType.Float64 => 8,
        DType.Int32 => 4,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype)),
    };

    public static string Name(this DType dtype) => dtype switch
    {
        DType.Float32 => "float32",
        DType.Float64 => "float64",
        DType.Int32 => "int32",
        _ => "unknown",
    };
}
