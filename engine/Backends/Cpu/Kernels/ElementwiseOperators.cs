using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Vicreg.Engine.Backends.Cpu.Kernels;

/// <summary>y = f(x): a struct, so each operator gets its own specialised, inlined loop.</summary>
internal interface IUnaryOperator<T> where T : unmanaged
{
    T Apply(T x);
    Vector256<T> Apply(Vector256<T> x);
}

/// <summary>y = f(a, b).</summary>
internal interface IBinaryOperator<T> where T : unmanaged
{
    T Apply(T a, T b);
    Vector256<T> Apply(Vector256<T> a, Vector256<T> b);
}

internal readonly struct CopyOp<T> : IUnaryOperator<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public T Apply(T x) => x;
    public Vector256<T> Apply(Vector256<T> x) => x;
}

internal readonly struct ScaleOp<T>(T alpha) : IUnaryOperator<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public T Apply(T x) => alpha * x;
    public Vector256<T> Apply(Vector256<T> x) => x * alpha;
}

internal readonly struct AddScalarOp<T>(T alpha) : IUnaryOperator<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public T Apply(T x) => x + alpha;
    public Vector256<T> Apply(Vector256<T> x) => x + Vector256.Create(alpha);
}

internal readonly struct SquareOp<T> : IUnaryOperator<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public T Apply(T x) => x * x;
    public Vector256<T> Apply(Vector256<T> x) => x * x;
}

internal readonly struct SqrtOp<T> : IUnaryOperator<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public T Apply(T x) => T.Sqrt(x);
    public Vector256<T> Apply(Vector256<T> x) => Vector256.Sqrt(x);
}

internal readonly struct ReluOp<T> : IUnaryOperator<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    // Max propagates NaN (as torch.relu does), in the vector and the scalar tail alike.
    public T Apply(T x) => T.Max(x, T.Zero);
    public Vector256<T> Apply(Vector256<T> x) => Vector256.Max(x, Vector256<T>.Zero);
}

internal readonly struct HingeOp<T>(T alpha) : IUnaryOperator<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public T Apply(T x) => T.Max(alpha - x, T.Zero);
    public Vector256<T> Apply(Vector256<T> x) => Vector256.Max(Vector256.Create(alpha) - x, Vector256<T>.Zero);
}

internal readonly struct ExpOp<T> : IUnaryOperator<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public T Apply(T x) => T.Exp(x);
    public Vector256<T> Apply(Vector256<T> x) => VectorMath.Exp(x);
}

internal readonly struct LogOp<T> : IUnaryOperator<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public T Apply(T x) => T.Log(x);
    public Vector256<T> Apply(Vector256<T> x) => VectorMath.Log(x);
}

internal readonly struct ReciprocalOp<T> : IUnaryOperator<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public T Apply(T x) => T.One / x;
    public Vector256<T> Apply(Vector256<T> x) => Vector256<T>.One / x;
}

internal readonly struct TanhOp<T> : IUnaryOperator<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public T Apply(T x) => T.Tanh(x);
    public Vector256<T> Apply(Vector256<T> x) => VectorMath.Tanh(x);
}

internal readonly struct PowOp<T>(T alpha) : IUnaryOperator<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public T Apply(T x) => T.Pow(x, alpha);

    // .NET has no vector pow, and exp(alpha log x) would lose the sign of a negative x with an integer alpha:
    // each lane takes the scalar pow.
    public Vector256<T> Apply(Vector256<T> x)
    {
        for (int i = 0; i < Vector256<T>.Count; i++) x = x.WithElement(i, T.Pow(x.GetElement(i), alpha));
        return x;
    }
}

/// <summary>GELU's tanh form, 0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³))), fused (the composite is Ops.Gelu).</summary>
internal readonly struct GeluOp<T> : IUnaryOperator<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    internal static T Beta => T.CreateTruncating(0.7978845608028654); // √(2/π)
    internal static T Kappa => T.CreateTruncating(0.044715);
    internal static T Half => T.CreateTruncating(0.5);

    public T Apply(T x) => Half * x * (T.One + T.Tanh(Beta * (x + Kappa * x * x * x)));
    public Vector256<T> Apply(Vector256<T> x)
        => Vector256.Create(Half) * x * (Vector256<T>.One + VectorMath.Tanh(Vector256.Create(Beta) * (x + Vector256.Create(Kappa) * x * x * x)));
}

internal readonly struct AddOp<T> : IBinaryOperator<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public T Apply(T a, T b) => a + b;
    public Vector256<T> Apply(Vector256<T> a, Vector256<T> b) => a + b;
}

internal readonly struct SubOp<T> : IBinaryOperator<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public T Apply(T a, T b) => a - b;
    public Vector256<T> Apply(Vector256<T> a, Vector256<T> b) => a - b;
}

internal readonly struct MulOp<T> : IBinaryOperator<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public T Apply(T a, T b) => a * b;
    public Vector256<T> Apply(Vector256<T> a, Vector256<T> b) => a * b;
}

internal readonly struct DivOp<T> : IBinaryOperator<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public T Apply(T a, T b) => a / b;
    public Vector256<T> Apply(Vector256<T> a, Vector256<T> b) => a / b;
}

/// <summary>b where a &gt; 0, else 0.</summary>
internal readonly struct ReluBackwardOp<T> : IBinaryOperator<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public T Apply(T a, T b) => a > T.Zero ? b : T.Zero;
    public Vector256<T> Apply(Vector256<T> a, Vector256<T> b) => Vector256.GreaterThan(a, Vector256<T>.Zero) & b;
}

/// <summary>-b where a &lt; alpha, else 0.</summary>
internal readonly struct HingeBackwardOp<T>(T alpha) : IBinaryOperator<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public T Apply(T a, T b) => a < alpha ? -b : T.Zero;
    public Vector256<T> Apply(Vector256<T> a, Vector256<T> b) => Vector256.LessThan(a, Vector256.Create(alpha)) & -b;
}

/// <summary>max(a, b), NaN if either is NaN (T.Max and Vector256.Max both propagate NaN, as torch.maximum).</summary>
internal readonly struct MaximumOp<T> : IBinaryOperator<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public T Apply(T a, T b) => T.Max(a, b);
    public Vector256<T> Apply(Vector256<T> a, Vector256<T> b) => Vector256.Max(a, b);
}

/// <summary>min(a, b), NaN if either is NaN.</summary>
internal readonly struct MinimumOp<T> : IBinaryOperator<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public T Apply(T a, T b) => T.Min(a, b);
    public Vector256<T> Apply(Vector256<T> a, Vector256<T> b) => Vector256.Min(a, b);
}

/// <summary>0 where a &lt; b, 1/2 where a == b, else 1.</summary>
internal readonly struct MaxGradientShareOp<T> : IBinaryOperator<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private static T Half => T.One / (T.One + T.One);
    public T Apply(T a, T b) => a < b ? T.Zero : a == b ? Half : T.One;
    public Vector256<T> Apply(Vector256<T> a, Vector256<T> b)
        => Vector256.AndNot(Vector256.ConditionalSelect(Vector256.Equals(a, b), Vector256.Create(Half), Vector256<T>.One), Vector256.LessThan(a, b));
}

/// <summary>b where a != 0 (NaN counts as non-zero), else -0.</summary>
internal readonly struct SelectNonZeroOp<T> : IBinaryOperator<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public T Apply(T a, T b) => a != T.Zero ? b : T.NegativeZero;
    public Vector256<T> Apply(Vector256<T> a, Vector256<T> b)
        => Vector256.ConditionalSelect(Vector256.Equals(a, Vector256<T>.Zero), Vector256.Create(T.NegativeZero), b);
}

/// <summary>b where a == 0, else -0.</summary>
internal readonly struct SelectZeroOp<T> : IBinaryOperator<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public T Apply(T a, T b) => a == T.Zero ? b : T.NegativeZero;
    public Vector256<T> Apply(Vector256<T> a, Vector256<T> b)
        => Vector256.ConditionalSelect(Vector256.Equals(a, Vector256<T>.Zero), b, Vector256.Create(T.NegativeZero));
}

/// <summary>b (1 - a²), with a = tanh(x) and b = dy.</summary>
internal readonly struct TanhBackwardOp<T> : IBinaryOperator<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public T Apply(T a, T b) => b * (T.One - a * a);
    public Vector256<T> Apply(Vector256<T> a, Vector256<T> b) => b * (Vector256<T>.One - a * a);
}

/// <summary>b GELU'(a) for GELU's tanh form, with t = tanh(√(2/π) (a + 0.044715 a³)):
/// b (0.5 (1 + t) + 0.5 a (1 - t²) √(2/π) (1 + 3 · 0.044715 a²)), as PyTorch's GeluBackward.</summary>
internal readonly struct GeluBackwardOp<T> : IBinaryOperator<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public T Apply(T a, T b)
    {
        T a2 = a * a, t = T.Tanh(GeluOp<T>.Beta * (a + GeluOp<T>.Kappa * a2 * a)), half = GeluOp<T>.Half;
        T three = T.One + T.One + T.One;
        return b * (half * (T.One + t) + half * a * (T.One - t * t) * GeluOp<T>.Beta * (T.One + three * GeluOp<T>.Kappa * a2));
    }

    public Vector256<T> Apply(Vector256<T> a, Vector256<T> b)
    {
        var one = Vector256<T>.One;
        var (beta, kappa, half) = (Vector256.Create(GeluOp<T>.Beta), Vector256.Create(GeluOp<T>.Kappa), Vector256.Create(GeluOp<T>.Half));
        var a2 = a * a;
        var t = VectorMath.Tanh(beta * (a + kappa * a2 * a));
        return b * (half * (one + t) + half * a * (one - t * t) * beta * (one + (one + one + one) * kappa * a2));
    }
}

/// <summary>a * alpha + b: y += alpha x with a = x, b = y.</summary>
internal readonly struct AxpyOp<T>(T alpha) : IBinaryOperator<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public T Apply(T a, T b) => T.FusedMultiplyAdd(a, alpha, b);
    public Vector256<T> Apply(Vector256<T> a, Vector256<T> b) => VectorMath.Fma(a, Vector256.Create(alpha), b);
}

/// <summary>Runs an elementwise operator over n elements, in parallel blocks when the tensor is large.
/// In place (y == x or y == a/b) is allowed: each element is read before it is written.</summary>
internal static unsafe class Elementwise
{
    public static void Unary<T, TOp>(T* x, T* y, int n, TOp op) where T : unmanaged where TOp : struct, IUnaryOperator<T>
    {
        if (n < VectorMath.ParallelThreshold || CpuParallel.ThreadCount == 1)
        {
            UnaryRange(x, y, 0, n, op);
            return;
        }
        var body = new UnaryBody<T, TOp> { X = x, Y = y, N = n, Op = op };
        CpuParallel.For((n + VectorMath.ElementBlock - 1) / VectorMath.ElementBlock, ref body);
    }

    public static void Binary<T, TOp>(T* a, T* b, T* y, int n, TOp op) where T : unmanaged where TOp : struct, IBinaryOperator<T>
    {
        if (n < VectorMath.ParallelThreshold || CpuParallel.ThreadCount == 1)
        {
            BinaryRange(a, b, y, 0, n, op);
            return;
        }
        var body = new BinaryBody<T, TOp> { A = a, B = b, Y = y, N = n, Op = op };
        CpuParallel.For((n + VectorMath.ElementBlock - 1) / VectorMath.ElementBlock, ref body);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void UnaryRange<T, TOp>(T* x, T* y, int start, int end, TOp op) where T : unmanaged where TOp : struct, IUnaryOperator<T>
    {
        int w = Vector256<T>.Count, i = start;
        for (; i + 2 * w <= end; i += 2 * w)
        {
            var v0 = Vector256.Load(x + i); var v1 = Vector256.Load(x + i + w);
            Vector256.Store(op.Apply(v0), y + i);
            Vector256.Store(op.Apply(v1), y + i + w);
        }
        for (; i + w <= end; i += w) Vector256.Store(op.Apply(Vector256.Load(x + i)), y + i);
        for (; i < end; i++) y[i] = op.Apply(x[i]);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void BinaryRange<T, TOp>(T* a, T* b, T* y, int start, int end, TOp op) where T : unmanaged where TOp : struct, IBinaryOperator<T>
    {
        int w = Vector256<T>.Count, i = start;
        for (; i + w <= end; i += w) Vector256.Store(op.Apply(Vector256.Load(a + i), Vector256.Load(b + i)), y + i);
        for (; i < end; i++) y[i] = op.Apply(a[i], b[i]);
    }

    private struct UnaryBody<T, TOp> : IRangeBody where T : unmanaged where TOp : struct, IUnaryOperator<T>
    {
        public T* X, Y;
        public int N;
        public TOp Op;

        public void Run(int start, int end)
            => UnaryRange(X, Y, start * VectorMath.ElementBlock, Math.Min(N, end * VectorMath.ElementBlock), Op);
    }

    private struct BinaryBody<T, TOp> : IRangeBody where T : unmanaged where TOp : struct, IBinaryOperator<T>
    {
        public T* A, B, Y;
        public int N;
        public TOp Op;

        public void Run(int start, int end)
            => BinaryRange(A, B, Y, start * VectorMath.ElementBlock, Math.Min(N, end * VectorMath.ElementBlock), Op);
    }
}
