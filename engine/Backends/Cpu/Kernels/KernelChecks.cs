namespace Vicreg.Engine.Backends.Cpu.Kernels;

/// <summary>Cheap argument checks for the host kernels: only what would otherwise read or write outside
/// a buffer (element counts, element types). The ops check the full shapes; these guard the memory.</summary>
internal static class KernelChecks
{
    /// <summary>Float32 or Float64, and every other tensor of the same type.</summary>
    public static void Floating(string op, Tensor a)
    {
        if (a.DType is not (DType.Float32 or DType.Float64))
            throw new ShapeMismatchException($"{op}: needs float32 or float64, got {a.DType.Name()} {a.Shape}");
    }

    public static void SameType(string op, Tensor a, Tensor b) => ShapeMismatchException.SameDType(op, a, b);

    public static void Int32(string op, string what, Tensor t)
    {
        if (t.DType != DType.Int32)
            throw new ShapeMismatchException($"{op}: {what} must be int32, got {t.DType.Name()} {t.Shape}");
    }

    public static void Count(string op, string what, Tensor t, long expected)
    {
        if (t.Numel != expected)
            throw new ShapeMismatchException($"{op}: {what} needs {expected} elements, got {t.Numel} (shape {t.Shape})");
    }

    public static void SameCount(string op, Tensor a, Tensor b)
    {
        if (a.Numel != b.Numel)
            throw new ShapeMismatchException($"{op}: element counts differ ({a.Numel} in {a.Shape} and {b.Numel} in {b.Shape})");
    }

    public static void NonNegative(string op, int outer, int mid, int inner)
    {
        if (outer < 0 || mid < 0 || inner < 0)
            throw new ShapeMismatchException($"{op}: negative extent [{outer}, {mid}, {inner}]");
    }
}
