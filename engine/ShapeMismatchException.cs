namespace Vicreg.Engine;

/// <summary>Raised when an op is given tensors whose shapes or types do not fit; the message names the
/// op and every shape involved, so the mistake is found without a debugger.</summary>
public sealed class ShapeMismatchException(string message) : ArgumentException(message)
{
    /// <summary>Throws, naming <paramref name="op"/>, <paramref name="what"/> was expected and <paramref name="a"/>'s shape, unless <paramref name="condition"/> holds.</summary>
    public static void Require(bool condition, string op, string what, Tensor a)
    {
        if (!condition) throw new ShapeMismatchException($"{op}: {what} (got {a.Shape})");
    }

    /// <summary>Throws, naming <paramref name="op"/>, <paramref name="what"/> was expected and both shapes, unless <paramref name="condition"/> holds.</summary>
    public static void Require(bool condition, string op, string what, Tensor a, Tensor b)
    {
        if (!condition) throw new ShapeMismatchException($"{op}: {what} (got {a.Shape} and {b.Shape})");
    }

    /// <summary>Throws, naming <paramref name="op"/> and both types, unless the tensors have one element type.</summary>
    public static void SameDType(string op, Tensor a, Tensor b)
    {
        if (a.DType != b.DType)
            throw new ShapeMismatchException($"{op}: element types differ ({a.DType.Name()} {a.Shape} and {b.DType.Name()} {b.Shape})");
    }
}
