namespace Vicreg.Engine;

/// <summary>Element types. Float32 is the training type; Float64 exists on the CPU so that every
/// backward can be checked against finite differences in double precision; Int32 holds labels
/// and pooling indices.</summary>
public enum DType
{
    /// <summary>32-bit IEEE float: weights, activations, images.</summary>
    Float32,
    /// <summary>64-bit IEEE float (CPU only): gradient checks.</summary>
    Float64,
    /// <summary>32-bit integer: labels, indices.</summary>
    Int32,
}

/// <summary>Sizes and names of the element types.</summary>
public static class DTypeExtensions
{
    /// <summary>The bytes one element takes (4 or 8).</summary>
    public static int SizeInBytes(this DType dtype) => dtype switch
    {
        DType.Float32 => 4,
        DType.Float64 => 8,
        DType.Int32 => 4,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype)),
    };

    /// <summary>PyTorch's name: "float32", "float64", "int32".</summary>
    public static string Name(this DType dtype) => dtype switch
    {
        DType.Float32 => "float32",
        DType.Float64 => "float64",
        DType.Int32 => "int32",
        _ => "unknown",
    };
}
