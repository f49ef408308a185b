namespace Vicreg.Engine;

/// <summary>
/// The differentiable ops: each checks its arguments (naming the op and the shapes), calls backend
/// kernels for the forward, and, when an input needs a gradient, records a tape node whose backward
/// calls kernels again. One file per op family. Outputs live on the inputs' backend.
/// </summary>
public static partial class Ops
{
    private static void SameBackend(string op, Tensor a, Tensor b)
    {
        if (!ReferenceEquals(a.Backend, b.Backend))
            throw new ShapeMismatchException($"{op}: tensors live on different backends ({a.Backend.Name} and {b.Backend.Name})");
    }

    private static void Floating(string op, Tensor a)
    {
        if (a.DType == DType.Int32) throw new ShapeMismatchException($"{op}: needs a floating-point tensor, got int32 {a.Shape}");
    }

    private static void SameShape(string op, Tensor a, Tensor b)
    {
        SameBackend(op, a, b);
        ShapeMismatchException.SameDType(op, a, b);
        ShapeMismatchException.Require(a.Shape == b.Shape, op, "shapes must be equal (no implicit broadcasting)", a, b);
    }

    private static Tensor Like(Tensor t) => Tensor.Empty(t.Shape, t.DType, t.Backend);
    private static Tensor New(Tensor like, Shape shape) => Tensor.Empty(shape, like.DType, like.Backend);
}
