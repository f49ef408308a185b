using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Vicreg.Engine.Backends.Cpu.Convolution;

/// <summary>
/// The matrices of Winograd's F(4x4, 3x3) (Lavin and Gray 2016, interpolation points 0, ±1, ±2, ∞):
/// <code>
///   B^T = [4  0 -5  0  1  0]    G = [ 1/4    0     0  ]    A^T = [1  1  1  1  1  0]
///         [0 -4 -4  1  1  0]        [-1/6  -1/6  -1/6 ]          [0  1 -1  2 -2  0]
///         [0  4 -4 -1  1  0]        [-1/6   1/6  -1/6 ]          [0  1  1  4  4  0]
///         [0 -2 -1  2  1  0]        [1/24  1/12  1/6  ]          [0  1 -1  8 -8  1]
///         [0  2 -1 -2  1  0]        [1/24 -1/12  1/6  ]
///         [0  4  0 -5  0  1]        [  0     0     1  ]
/// </code>
/// a 4x4 output tile is y = A^T [(G g G^T) ⊙ (B^T d B)] A for its 6x6 input tile d: 36 multiplies per tile
/// and channel instead of 144 (F(2x2, 3x3): 16 for 36, <see cref="WinogradTransforms"/>). The price is
/// rounding: the factors are no longer 0, ±1, ±1/2, and the transformed values are larger than the
/// inputs (see the bound in the tests). The weight gradient runs the adjoints: dm = A dy A^T per output
/// tile and dg = G^T dU G per filter (<see cref="WinogradF4BackwardFilter"/>). Each transform runs a vector
/// of eight channels or filters at once, in two passes through a small buffer (columns, then rows),
/// element e = 6i + j at <c>dst + e * stride</c>.
/// </summary>
internal static unsafe class WinogradF4Transforms
{
    /// <summary>Elements of a transformed 6x6 tile.</summary>
    public const int Elements = 36;

    /// <summary>Floats of the buffer the transforms pass through between their two passes.</summary>
    public const int Scratch = Elements * 8;

    /// <summary>U = G g G^T for eight filters (a lane each): tap t (row-major 3x3) at <c>taps + 8 t</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Filter(float* taps, float* u, nint stride, float* tmp)
    {
        for (int j = 0; j < 3; j++)
        {
            FilterColumn(Vector256.Load(taps + 8 * j), Vector256.Load(taps + 8 * (3 + j)), Vector256.Load(taps + 8 * (6 + j)),
                out var t0, out var t1, out var t2, out var t3, out var t4, out var t5);
            t0.Store(tmp + 8 * j); t1.Store(tmp + 8 * (3 + j)); t2.Store(tmp + 8 * (6 + j));
            t3.Store(tmp + 8 * (9 + j)); t4.Store(tmp + 8 * (12 + j)); t5.Store(tmp + 8 * (15 + j));
        }
        for (int i = 0; i < 6; i++)
        {
            FilterColumn(Vector256.Load(tmp + 8 * 3 * i), Vector256.Load(tmp + 8 * (3 * i + 1)), Vector256.Load(tmp + 8 * (3 * i + 2)),
                out var t0, out var t1, out var t2, out var t3, out var t4, out var t5);
            float* row = u + 6 * i * stride;
            t0.Store(row); t1.Store(row + stride); t2.Store(row + 2 * stride);
            t3.Store(row + 3 * stride); t4.Store(row + 4 * stride); t5.Store(row + 5 * stride);
        }
    }

    /// <summary>G times a column (a, b, c).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void FilterColumn(Vector256<float> a, Vector256<float> b, Vector256<float> c,
        out Vector256<float> t0, out Vector256<float> t1, out Vector256<float> t2, out Vector256<float> t3, out Vector256<float> t4, out Vector256<float> t5)
    {
        var ac = a + c;
        var sixth = Vector256.Create(1f / 6);
        t0 = a * Vector256.Create(0.25f);
        t1 = -(ac + b) * sixth;
        t2 = (b - ac) * sixth;
        var even = a * Vector256.Create(1f / 24) + c * sixth;
        var odd = b * Vector256.Create(1f / 12);
        t3 = even + odd;
        t4 = even - odd;
        t5 = c;
    }

    /// <summary>The adjoint of <see cref="Filter"/> for eight filters: dg = G^T dU G, dU element e at <c>du + e * stride</c>,
    /// tap t of dg to <c>dg + 8 t</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void FilterGradient(float* du, nint stride, float* dg, float* tmp)
    {
        // Rows of dU G into tmp[3 i + s], then G^T down each of its three columns.
        for (int i = 0; i < 6; i++)
        {
            float* row = du + 6 * i * stride;
            FilterGradientColumn(Vector256.Load(row), Vector256.Load(row + stride), Vector256.Load(row + 2 * stride),
                Vector256.Load(row + 3 * stride), Vector256.Load(row + 4 * stride), Vector256.Load(row + 5 * stride), tmp + 8 * 3 * i, 8);
        }
        for (int s = 0; s < 3; s++)
        {
            float* col = tmp + 8 * s;
            FilterGradientColumn(Vector256.Load(col), Vector256.Load(col + 24), Vector256.Load(col + 48),
                Vector256.Load(col + 72), Vector256.Load(col + 96), Vector256.Load(col + 120), dg + 8 * s, 3 * 8);
        }
    }

    /// <summary>G^T times (p0 .. p5), element s to <c>dst + s * stride</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void FilterGradientColumn(Vector256<float> p0, Vector256<float> p1, Vector256<float> p2, Vector256<float> p3,
        Vector256<float> p4, Vector256<float> p5, float* dst, nint stride)
    {
        var sixth = Vector256.Create(1f / 6);
        var s12 = (p1 + p2) * sixth;
        var s34 = p3 + p4;
        (p0 * Vector256.Create(0.25f) - s12 + s34 * Vector256.Create(1f / 24)).Store(dst);
        ((p2 - p1) * sixth + (p3 - p4) * Vector256.Create(1f / 12)).Store(dst + stride);
        (s34 * sixth - s12 + p5).Store(dst + 2 * stride);
    }

    /// <summary>V = B^T d B for eight channels of one tile: d_ij (row i, column j) at <c>d + i * rowStride + 8 j</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Input(float* d, nint rowStride, float* v, nint stride, float* tmp)
    {
        for (int j = 0; j < 6; j++)
        {
            float* col = d + 8 * j;
            InputColumn(Vector256.Load(col), Vector256.Load(col + rowStride), Vector256.Load(col + 2 * rowStride),
                Vector256.Load(col + 3 * rowStride), Vector256.Load(col + 4 * rowStride), Vector256.Load(col + 5 * rowStride),
                tmp + 8 * j, 6 * 8);
        }
        for (int i = 0; i < 6; i++)
        {
            float* row = tmp + 6 * 8 * i;
            InputColumn(Vector256.Load(row), Vector256.Load(row + 8), Vector256.Load(row + 16),
                Vector256.Load(row + 24), Vector256.Load(row + 32), Vector256.Load(row + 40), v + 6 * i * stride, stride);
        }
    }

    /// <summary>B^T times (d0 .. d5), element r to <c>dst + r * stride</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void InputColumn(Vector256<float> d0, Vector256<float> d1, Vector256<float> d2, Vector256<float> d3,
        Vector256<float> d4, Vector256<float> d5, float* dst, nint stride)
    {
        var four = Vector256.Create(4f);
        var two = Vector256.Create(2f);
        var five = Vector256.Create(5f);
        var a = d4 - four * d2;             // -4 d2 + d4
        var b = d3 - four * d1;             // -4 d1 + d3
        var c = d4 - d2;
        var e = two * (d3 - d1);
        (four * d0 - five * d2 + d4).Store(dst);
        (a + b).Store(dst + stride);
        (a - b).Store(dst + 2 * stride);
        (c + e).Store(dst + 3 * stride);
        (c - e).Store(dst + 4 * stride);
        (four * d1 - five * d3 + d5).Store(dst + 5 * stride);
    }

    /// <summary>y = A^T m A for eight tiles (a lane each) of one output channel: m_e at <c>m + e * stride</c>; output
    /// (p, q) to <c>y + 8 (4p + q)</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Output(float* m, nint stride, float* y, float* tmp)
    {
        for (int j = 0; j < 6; j++)
        {
            float* col = m + j * stride;
            OutputColumn(Vector256.Load(col), Vector256.Load(col + 6 * stride), Vector256.Load(col + 12 * stride),
                Vector256.Load(col + 18 * stride), Vector256.Load(col + 24 * stride), Vector256.Load(col + 30 * stride),
                tmp + 8 * j, 6 * 8);
        }
        for (int p = 0; p < 4; p++)
        {
            float* row = tmp + 6 * 8 * p;
            OutputColumn(Vector256.Load(row), Vector256.Load(row + 8), Vector256.Load(row + 16),
                Vector256.Load(row + 24), Vector256.Load(row + 32), Vector256.Load(row + 40), y + 32 * p, 8);
        }
    }

    /// <summary>A^T times (m0 .. m5), element p to <c>dst + p * stride</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void OutputColumn(Vector256<float> m0, Vector256<float> m1, Vector256<float> m2, Vector256<float> m3,
        Vector256<float> m4, Vector256<float> m5, float* dst, nint stride)
    {
        var s12 = m1 + m2; var d12 = m1 - m2;
        var s34 = m3 + m4; var d34 = m3 - m4;
        (m0 + s12 + s34).Store(dst);
        (d12 + Vector256.Create(2f) * d34).Store(dst + stride);
        (s12 + Vector256.Create(4f) * s34).Store(dst + 2 * stride);
        (d12 + Vector256.Create(8f) * d34 + m5).Store(dst + 3 * stride);
    }

    /// <summary>The adjoint of <see cref="Output"/> for eight channels of one tile: dm = A dy A^T from a 4x4 output
    /// gradient, dy_pq (row p, column q) at <c>dy + p * rowStride + 8 q</c>; element e = 6i + j to <c>dm + e * stride</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void OutputGradient(float* dy, nint rowStride, float* dm, nint stride, float* tmp)
    {
        for (int q = 0; q < 4; q++)
        {
            float* col = dy + 8 * q;
            OutputGradientColumn(Vector256.Load(col), Vector256.Load(col + rowStride), Vector256.Load(col + 2 * rowStride),
                Vector256.Load(col + 3 * rowStride), tmp + 8 * q, 4 * 8);
        }
        for (int i = 0; i < 6; i++)
        {
            float* row = tmp + 4 * 8 * i;
            OutputGradientColumn(Vector256.Load(row), Vector256.Load(row + 8), Vector256.Load(row + 16), Vector256.Load(row + 24),
                dm + 6 * i * stride, stride);
        }
    }

    /// <summary>A times (p0 .. p3), element i to <c>dst + i * stride</c>: the six interpolation points 0, 1, -1, 2, -2, ∞.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void OutputGradientColumn(Vector256<float> p0, Vector256<float> p1, Vector256<float> p2, Vector256<float> p3,
        float* dst, nint stride)
    {
        var four = Vector256.Create(4f);
        var s02 = p0 + p2; var s13 = p1 + p3;
        var even = p0 + four * p2;
        var odd = Vector256.Create(2f) * (p1 + four * p3);
        p0.Store(dst);
        (s02 + s13).Store(dst + stride);
        (s02 - s13).Store(dst + 2 * stride);
        (even + odd).Store(dst + 3 * stride);
        (even - odd).Store(dst + 4 * stride);
        p3.Store(dst + 5 * stride);
    }
}
