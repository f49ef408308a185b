using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Vicreg.Engine.Backends.Cpu.Gemm;

namespace Vicreg.Engine.Backends.Cpu.Convolution;

/// <summary>
/// The matrices of Winograd's F(2x2, 3x3) (Lavin and Gray 2016), applied to many tiles at once, one tile
/// per vector lane. With
/// <code>
///   B^T = [1  0 -1  0]    G = [ 1    0    0 ]    A^T = [1  1  1  0]
///         [0  1  1  0]        [1/2  1/2  1/2]          [0  1 -1 -1]
///         [0 -1  1  0]        [1/2 -1/2  1/2]
///         [0  1  0 -1]        [ 0    0    1 ]
/// </code>
/// a 2x2 output tile of a 3x3 cross-correlation is y = A^T [(G g G^T) ⊙ (B^T d B)] A for its 4x4 input
/// tile d, so summed over channels it costs 16 multiplies per tile (one per element e = 4i + j of the
/// 4x4 transformed tile) instead of 36. The gradients use the adjoints: dU = A dy A^T ⊙ V accumulated
/// over tiles, then dg = G^T dU G. Every factor is 0, ±1 or ±1/2, so the transforms are additions and
/// exact halvings; the rounding they add is a few ulps of the tile's magnitudes.
/// <para>Element e of a transformed tile goes to <c>dst + e * stride</c> (the 16 matrices of a batched
/// product are <c>stride</c> apart), vectors of tiles along a row of each matrix.</para>
/// </summary>
internal static unsafe class WinogradTransforms
{
    /// <summary>Elements of a transformed 4x4 tile.</summary>
    public const int Elements = 16;

    /// <summary>U = G g G^T for <see cref="Vector256{T}.Count"/> filters at once: <paramref name="g"/> holds the
    /// nine taps row-major, tap t at <c>g[t * count .. t * count + count)</c> (one filter per lane).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Filter<T>(T* g, T* u, nint stride) where T : unmanaged
    {
        int v = Vector256<T>.Count;
        var half = Vector256.Create(GemmKernel.FromDouble<T>(0.5));
        var g00 = Vector256.Load(g); var g01 = Vector256.Load(g + v); var g02 = Vector256.Load(g + 2 * v);
        var g10 = Vector256.Load(g + 3 * v); var g11 = Vector256.Load(g + 4 * v); var g12 = Vector256.Load(g + 5 * v);
        var g20 = Vector256.Load(g + 6 * v); var g21 = Vector256.Load(g + 7 * v); var g22 = Vector256.Load(g + 8 * v);
        // t = G g, a row of three taps at a time: g0, (g0 + g1 + g2)/2, (g0 - g1 + g2)/2, g2.
        var s0 = (g00 + g20) * half; var h0 = g10 * half;
        var s1 = (g01 + g21) * half; var h1 = g11 * half;
        var s2 = (g02 + g22) * half; var h2 = g12 * half;
        FilterRow(g00, g01, g02, u, stride, 0, half);
        FilterRow(s0 + h0, s1 + h1, s2 + h2, u, stride, 4, half);
        FilterRow(s0 - h0, s1 - h1, s2 - h2, u, stride, 8, half);
        FilterRow(g20, g21, g22, u, stride, 12, half);
    }

    /// <summary>One row (a, b, c) of t times G^T: [a, (a+b+c)/2, (a-b+c)/2, c].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void FilterRow<T>(Vector256<T> a, Vector256<T> b, Vector256<T> c, T* u, nint stride, int e, Vector256<T> half)
        where T : unmanaged
    {
        var ac = (a + c) * half;
        var hb = b * half;
        Vector256.Store(a, u + e * stride);
        Vector256.Store(ac + hb, u + (e + 1) * stride);
        Vector256.Store(ac - hb, u + (e + 2) * stride);
        Vector256.Store(c, u + (e + 3) * stride);
    }

    /// <summary>The adjoint of <see cref="Filter{T}"/>: dg = G^T dU G, the nine taps written as
    /// <see cref="Filter{T}"/> reads them (tap t at <c>dg[t * count ..]</c>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void FilterGradient<T>(T* du, nint stride, T* dg) where T : unmanaged
    {
        int v = Vector256<T>.Count;
        var half = Vector256.Create(GemmKernel.FromDouble<T>(0.5));
        // r = dU G: each row (p0..p3) becomes [p0 + (p1+p2)/2, (p1-p2)/2, (p1+p2)/2 + p3].
        GradientRow(du, stride, 0, half, out var r00, out var r01, out var r02);
        GradientRow(du, stride, 4, half, out var r10, out var r11, out var r12);
        GradientRow(du, stride, 8, half, out var r20, out var r21, out var r22);
        GradientRow(du, stride, 12, half, out var r30, out var r31, out var r32);
        // dg = G^T r: the same combination down each column.
        GradientColumn(r00, r10, r20, r30, dg, 0, v, half);
        GradientColumn(r01, r11, r21, r31, dg, 1, v, half);
        GradientColumn(r02, r12, r22, r32, dg, 2, v, half);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void GradientRow<T>(T* du, nint stride, int e, Vector256<T> half, out Vector256<T> q0, out Vector256<T> q1, out Vector256<T> q2)
        where T : unmanaged
    {
        var p0 = Vector256.Load(du + e * stride);
        var p1 = Vector256.Load(du + (e + 1) * stride);
        var p2 = Vector256.Load(du + (e + 2) * stride);
        var p3 = Vector256.Load(du + (e + 3) * stride);
        var s = (p1 + p2) * half;
        q0 = p0 + s;
        q1 = (p1 - p2) * half;
        q2 = s + p3;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void GradientColumn<T>(Vector256<T> p0, Vector256<T> p1, Vector256<T> p2, Vector256<T> p3, T* dg, int column, int v, Vector256<T> half)
        where T : unmanaged
    {
        var s = (p1 + p2) * half;
        Vector256.Store(p0 + s, dg + column * v);
        Vector256.Store((p1 - p2) * half, dg + (3 + column) * v);
        Vector256.Store(s + p3, dg + (6 + column) * v);
    }

    /// <summary>V = B^T d B for the tiles of one tile row: input row i of the tiles (i = 0..3) is given
    /// de-interleaved, its even columns at <c>even[i]</c> and odd ones at <c>odd[i]</c>, so tile lane l reads
    /// even[l], odd[l], even[l+1], odd[l+1] (its four columns 2l..2l+3).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Input<T>(T* even0, T* odd0, T* even1, T* odd1, T* even2, T* odd2, T* even3, T* odd3, T* v, nint stride)
        where T : unmanaged
    {
        // Columns j = 0..3 of each input row, then the rows combined (B^T d), then the columns (· B).
        var d00 = Vector256.Load(even0); var d01 = Vector256.Load(odd0); var d02 = Vector256.Load(even0 + 1); var d03 = Vector256.Load(odd0 + 1);
        var d10 = Vector256.Load(even1); var d11 = Vector256.Load(odd1); var d12 = Vector256.Load(even1 + 1); var d13 = Vector256.Load(odd1 + 1);
        var d20 = Vector256.Load(even2); var d21 = Vector256.Load(odd2); var d22 = Vector256.Load(even2 + 1); var d23 = Vector256.Load(odd2 + 1);
        var d30 = Vector256.Load(even3); var d31 = Vector256.Load(odd3); var d32 = Vector256.Load(even3 + 1); var d33 = Vector256.Load(odd3 + 1);
        Input(d00, d01, d02, d03, d10, d11, d12, d13, d20, d21, d22, d23, d30, d31, d32, d33, v, stride);
    }

    /// <summary>V = B^T d B from the 16 elements d_ij of a vector of tiles (row i, column j).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Input<T>(Vector256<T> d00, Vector256<T> d01, Vector256<T> d02, Vector256<T> d03,
        Vector256<T> d10, Vector256<T> d11, Vector256<T> d12, Vector256<T> d13,
        Vector256<T> d20, Vector256<T> d21, Vector256<T> d22, Vector256<T> d23,
        Vector256<T> d30, Vector256<T> d31, Vector256<T> d32, Vector256<T> d33, T* v, nint stride) where T : unmanaged
    {
        InputRow(d00 - d20, d01 - d21, d02 - d22, d03 - d23, v, stride, 0);
        InputRow(d10 + d20, d11 + d21, d12 + d22, d13 + d23, v, stride, 4);
        InputRow(d20 - d10, d21 - d11, d22 - d12, d23 - d13, v, stride, 8);
        InputRow(d10 - d30, d11 - d31, d12 - d32, d13 - d33, v, stride, 12);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void InputRow<T>(Vector256<T> s0, Vector256<T> s1, Vector256<T> s2, Vector256<T> s3, T* v, nint stride, int e)
        where T : unmanaged
    {
        Vector256.Store(s0 - s2, v + e * stride);
        Vector256.Store(s1 + s2, v + (e + 1) * stride);
        Vector256.Store(s2 - s1, v + (e + 2) * stride);
        Vector256.Store(s1 - s3, v + (e + 3) * stride);
    }

    /// <summary>y = A^T m A for a vector of tiles: the four outputs (row, column) = (0,0), (0,1), (1,0), (1,1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Output<T>(T* m, nint stride, out Vector256<T> y00, out Vector256<T> y01, out Vector256<T> y10, out Vector256<T> y11)
        where T : unmanaged
    {
        // Rows first: u0 = m0 + m1 + m2, u1 = m1 - m2 - m3 (each a row of four), then the same across columns.
        var m1 = Row(m, stride, 4);
        var m2 = Row(m, stride, 8);
        var u0 = Row(m, stride, 0) + m1 + m2;
        var u1 = m1 - m2 - Row(m, stride, 12);
        y00 = u0.A + u0.B + u0.C;
        y01 = u0.B - u0.C - u0.D;
        y10 = u1.A + u1.B + u1.C;
        y11 = u1.B - u1.C - u1.D;
    }

    private static Quad<T> Row<T>(T* m, nint stride, int e) where T : unmanaged
        => new(Vector256.Load(m + e * stride), Vector256.Load(m + (e + 1) * stride), Vector256.Load(m + (e + 2) * stride), Vector256.Load(m + (e + 3) * stride));

    /// <summary>The adjoint of <see cref="Output{T}"/>: dm = A dy A^T from a vector of 2x2 output gradients.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void OutputGradient<T>(Vector256<T> dy00, Vector256<T> dy01, Vector256<T> dy10, Vector256<T> dy11, T* dm, nint stride)
        where T : unmanaged
    {
        // A maps a pair (p, q) to (p, p + q, p - q, -q): down the rows, then along each row.
        var r1a = dy00 + dy10; var r1b = dy01 + dy11;
        var r2a = dy00 - dy10; var r2b = dy01 - dy11;
        GradientColumns(dy00, dy01, dm, stride, 0);
        GradientColumns(r1a, r1b, dm, stride, 4);
        GradientColumns(r2a, r2b, dm, stride, 8);
        GradientColumns(-dy10, -dy11, dm, stride, 12);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void GradientColumns<T>(Vector256<T> p, Vector256<T> q, T* dm, nint stride, int e) where T : unmanaged
    {
        Vector256.Store(p, dm + e * stride);
        Vector256.Store(p + q, dm + (e + 1) * stride);
        Vector256.Store(p - q, dm + (e + 2) * stride);
        Vector256.Store(-q, dm + (e + 3) * stride);
    }

    /// <summary>Four vectors (a row of a 4x4 tile), added and subtracted lane by lane.</summary>
    private readonly struct Quad<T>(Vector256<T> a, Vector256<T> b, Vector256<T> c, Vector256<T> d) where T : unmanaged
    {
        public readonly Vector256<T> A = a, B = b, C = c, D = d;
        public static Quad<T> operator +(Quad<T> x, Quad<T> y) => new(x.A + y.A, x.B + y.B, x.C + y.C, x.D + y.D);
        public static Quad<T> operator -(Quad<T> x, Quad<T> y) => new(x.A - y.A, x.B - y.B, x.C - y.C, x.D - y.D);
    }
}
