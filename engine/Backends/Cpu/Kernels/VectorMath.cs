using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Vicreg.Engine.Backends.Cpu.Kernels;

/// <summary>
/// Small vectorized building blocks shared by the host kernels, generic over float and double.
/// Sums are accumulated in double whatever T is (float32 statistics over large batches lose digits
/// otherwise), with four independent accumulators so the additions pipeline; the order is fixed by the
/// length alone, so a given call always returns the same bits.
/// </summary>
internal static unsafe class VectorMath
{
    /// <summary>Below this many elements a kernel runs on the calling thread: waking workers costs more.</summary>
    public const int ParallelThreshold = 32 * 1024;

    /// <summary>Elementwise loops are split into blocks of this many elements so that every chunk boundary
    /// falls on a whole vector (no scalar tails in the middle of a tensor).</summary>
    public const int ElementBlock = 4096;

    /// <summary>Most partial sums a whole-tensor reduction splits into (their doubles sit on the stack).</summary>
    public const int MaxReductionBlocks = 256;

    /// <summary>How many partial sums a reduction over <paramref name="n"/> elements adds up: a function of n
    /// alone (never of the thread count), so a sum has the same bits on one core or many, and a run resumed
    /// on another machine continues exactly. Enough blocks to share among the threads when n is large.</summary>
    public static int ReductionBlocks(long n)
        => n < ParallelThreshold ? 1 : (int)Math.Min(MaxReductionBlocks, n / (ParallelThreshold / 2));

    public static bool IsFloat<T>() => typeof(T) == typeof(float);

    /// <summary>Lower and upper halves of a vector of T as doubles (for T = double: the vector and zero).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<double> WidenLower<T>(Vector256<T> v) where T : unmanaged
        => IsFloat<T>() ? Vector256.WidenLower(v.AsSingle()) : v.AsDouble();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<double> WidenUpper<T>(Vector256<T> v) where T : unmanaged
        => IsFloat<T>() ? Vector256.WidenUpper(v.AsSingle()) : Vector256<double>.Zero;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double ToDouble<T>(T v) where T : unmanaged, IFloatingPointIeee754<T> => double.CreateTruncating(v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T FromDouble<T>(double v) where T : unmanaged, IFloatingPointIeee754<T> => T.CreateTruncating(v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Exp<T>(Vector256<T> v) where T : unmanaged
        => IsFloat<T>() ? Vector256.Exp(v.AsSingle()).As<float, T>() : Vector256.Exp(v.AsDouble()).As<double, T>();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Log<T>(Vector256<T> v) where T : unmanaged
        => IsFloat<T>() ? Vector256.Log(v.AsSingle()).As<float, T>() : Vector256.Log(v.AsDouble()).As<double, T>();

    /// <summary>tanh(x). For |x| &lt; 1/8 the odd Taylor series through x^15 (truncation below 1e-17 relative
    /// there); elsewhere 1 - 2 / (exp(2|x|) + 1) with x's sign, which near 0 would cancel. .NET has no vector tanh.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Tanh<T>(Vector256<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var magnitude = Vector256.Abs(x);
        var one = Vector256<T>.One;
        var far = one - (one + one) / (Exp(magnitude + magnitude) + one);
        far = Vector256.ConditionalSelect(Vector256.Create(T.NegativeZero), x, far); // x's sign bit on |tanh x|
        var x2 = x * x;
        var series = Vector256.Create(T.CreateTruncating(-929569.0 / 638512875));
        series = Fma(series, x2, Vector256.Create(T.CreateTruncating(21844.0 / 6081075)));
        series = Fma(series, x2, Vector256.Create(T.CreateTruncating(-1382.0 / 155925)));
        series = Fma(series, x2, Vector256.Create(T.CreateTruncating(62.0 / 2835)));
        series = Fma(series, x2, Vector256.Create(T.CreateTruncating(-17.0 / 315)));
        series = Fma(series, x2, Vector256.Create(T.CreateTruncating(2.0 / 15)));
        series = Fma(series, x2, Vector256.Create(T.CreateTruncating(-1.0 / 3)));
        var near = Fma(series * x2, x, x);
        return Vector256.ConditionalSelect(Vector256.LessThan(magnitude, Vector256.Create(T.CreateTruncating(0.125))), near, far);
    }

    /// <summary>a * b + c, fused (Vector256.FusedMultiplyAdd has float and double overloads only).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Fma<T>(Vector256<T> a, Vector256<T> b, Vector256<T> c) where T : unmanaged
        => IsFloat<T>()
            ? Vector256.FusedMultiplyAdd(a.AsSingle(), b.AsSingle(), c.AsSingle()).As<float, T>()
            : Vector256.FusedMultiplyAdd(a.AsDouble(), b.AsDouble(), c.AsDouble()).As<double, T>();

    /// <summary>sum of p[i], in double.</summary>
    public static double Sum<T>(T* p, int n) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int w = Vector256<T>.Count, i = 0;
        var a0 = Vector256<double>.Zero; var a1 = a0; var a2 = a0; var a3 = a0;
        for (; i + 2 * w <= n; i += 2 * w)
        {
            var v0 = Vector256.Load(p + i); var v1 = Vector256.Load(p + i + w);
            a0 += WidenLower(v0); a1 += WidenUpper(v0);
            a2 += WidenLower(v1); a3 += WidenUpper(v1);
        }
        double s = Vector256.Sum((a0 + a1) + (a2 + a3));
        for (; i < n; i++) s += ToDouble(p[i]);
        return s;
    }

    /// <summary>sum of p[i]^2, in double.</summary>
    public static double SumOfSquares<T>(T* p, int n) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int w = Vector256<T>.Count, i = 0;
        var a0 = Vector256<double>.Zero; var a1 = a0; var a2 = a0; var a3 = a0;
        for (; i + 2 * w <= n; i += 2 * w)
        {
            var v0 = Vector256.Load(p + i); var v1 = Vector256.Load(p + i + w);
            var l0 = WidenLower(v0); var u0 = WidenUpper(v0); var l1 = WidenLower(v1); var u1 = WidenUpper(v1);
            a0 = Fma(l0, l0, a0); a1 = Fma(u0, u0, a1);
            a2 = Fma(l1, l1, a2); a3 = Fma(u1, u1, a3);
        }
        double s = Vector256.Sum((a0 + a1) + (a2 + a3));
        for (; i < n; i++) { double v = ToDouble(p[i]); s += v * v; }
        return s;
    }

    /// <summary>sum of d[i] and of d[i]^2 with d[i] = p[i] - shift, in double, in one pass: a variance's two sums
    /// about a shift close to the mean, so that squares - sum^2 / n cancels only the few digits of (mean - shift)^2 / variance.</summary>
    public static (double Sum, double Squares) ShiftedSums<T>(T* p, int n, double shift) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int w = Vector256<T>.Count, i = 0;
        var k = Vector256.Create(shift);
        var s0 = Vector256<double>.Zero; var s1 = s0; var s2 = s0; var s3 = s0;
        var q0 = s0; var q1 = s0; var q2 = s0; var q3 = s0;
        for (; i + 2 * w <= n; i += 2 * w)
        {
            var v0 = Vector256.Load(p + i); var v1 = Vector256.Load(p + i + w);
            var l0 = WidenLower(v0) - k; var l1 = WidenLower(v1) - k;
            s0 += l0; q0 = Fma(l0, l0, q0);
            s2 += l1; q2 = Fma(l1, l1, q2);
            if (IsFloat<T>())
            {
                var u0 = WidenUpper(v0) - k; var u1 = WidenUpper(v1) - k;
                s1 += u0; q1 = Fma(u0, u0, q1);
                s3 += u1; q3 = Fma(u1, u1, q3);
            }
        }
        double sum = Vector256.Sum((s0 + s1) + (s2 + s3)), squares = Vector256.Sum((q0 + q1) + (q2 + q3));
        for (; i < n; i++)
        {
            double d = ToDouble(p[i]) - shift;
            sum += d;
            squares += d * d;
        }
        return (sum, squares);
    }

    /// <summary>sum of dy[i] and of dy[i] * (x[i] - mean), in double: the two sums of the batch-norm backward.</summary>
    public static (double SumDy, double SumDyXmu) SumDyAndDyXmu<T, TDy>(TDy dy, T* x, int n, double mean)
        where T : unmanaged, IFloatingPointIeee754<T> where TDy : struct, IOutputGradient<T, TDy>
    {
        int w = Vector256<T>.Count, i = 0;
        var m = Vector256.Create(mean);
        var s0 = Vector256<double>.Zero; var s1 = s0; var p0 = s0; var p1 = s0;
        for (; i + w <= n; i += w)
        {
            var d = dy.Load(i); var v = Vector256.Load(x + i);
            var dl = WidenLower(d); var du = WidenUpper(d);
            s0 += dl; s1 += du;
            p0 = Fma(dl, WidenLower(v) - m, p0);
            if (IsFloat<T>()) p1 = Fma(du, WidenUpper(v) - m, p1);
        }
        double sd = Vector256.Sum(s0 + s1), sp = Vector256.Sum(p0 + p1);
        for (; i < n; i++)
        {
            double d = ToDouble(dy[i]);
            sd += d;
            sp += d * (ToDouble(x[i]) - mean);
        }
        return (sd, sp);
    }

    /// <summary>y[i] = x[i] * scale + shift.</summary>
    public static void ScaleShift<T>(T* x, T* y, int n, T scale, T shift) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int w = Vector256<T>.Count, i = 0;
        var s = Vector256.Create(scale); var b = Vector256.Create(shift);
        for (; i + w <= n; i += w) Vector256.Store(Fma(Vector256.Load(x + i), s, b), y + i);
        for (; i < n; i++) y[i] = T.FusedMultiplyAdd(x[i], scale, shift);
    }

    /// <summary>y[i] = map((x[i] - center) * scale + shift): centring first keeps the digits when |mean| is much
    /// larger than the spread (folding the centre into the shift would cancel them away in float); the map is
    /// the identity (<see cref="CopyOp{T}"/>) or a ReLU fused into the same pass (<see cref="ReluOp{T}"/>).</summary>
    public static void CenterScaleShift<T, TMap>(T* x, T* y, int n, T center, T scale, T shift, TMap map)
        where T : unmanaged, IFloatingPointIeee754<T> where TMap : struct, IUnaryOperator<T>
    {
        int w = Vector256<T>.Count, i = 0;
        var m = Vector256.Create(center); var s = Vector256.Create(scale); var b = Vector256.Create(shift);
        for (; i + w <= n; i += w) Vector256.Store(map.Apply(Fma(Vector256.Load(x + i) - m, s, b)), y + i);
        for (; i < n; i++) y[i] = map.Apply(T.FusedMultiplyAdd(x[i] - center, scale, shift));
    }

    /// <summary>dx[i] = a * dy[i] + b * (x[i] - center) + c: the batch-norm input gradient.</summary>
    public static void BatchNormGradient<T, TDy>(TDy dy, T* x, T* dx, int n, T center, T a, T b, T c)
        where T : unmanaged, IFloatingPointIeee754<T> where TDy : struct, IOutputGradient<T, TDy>
    {
        int w = Vector256<T>.Count, i = 0;
        var m = Vector256.Create(center); var va = Vector256.Create(a); var vb = Vector256.Create(b); var vc = Vector256.Create(c);
        for (; i + w <= n; i += w)
            Vector256.Store(Fma(dy.Load(i), va, Fma(Vector256.Load(x + i) - m, vb, vc)), dx + i);
        for (; i < n; i++) dx[i] = T.FusedMultiplyAdd(dy[i], a, T.FusedMultiplyAdd(x[i] - center, b, c));
    }
}
