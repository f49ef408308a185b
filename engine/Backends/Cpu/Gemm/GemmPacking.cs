using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Vicreg.Engine.Backends.Cpu.Gemm;

/// <summary>
/// Copies blocks of A and B into the panel layouts the micro-kernel streams through: A as micro-panels of
/// <see cref="GemmMicroKernel.Rows"/> rows stored [k][rows], B as micro-panels of two vectors' worth of
/// columns stored [k][columns]. Panels are zero-padded past the matrix edge so the kernel never branches
/// on the tile size inside its loop. Alpha is folded into A here, once per element, instead of into
/// every tile of C. The packing loops are optimized from their first call, as the micro-kernels are: tiered
/// compilation ran them at tier 0 for the first calls, which made short runs (and the bench's first shapes) 2-4x slower.
/// </summary>
internal static unsafe class GemmPacking
{
    /// <summary>Packs rows [i0, i0+rows) and depth [p0, p0+depth) of op(A) (scaled by alpha) into
    /// micro-panels that start <paramref name="panelStride"/> elements apart.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackA<T>(bool transpose, T* a, nint lda, int i0, int rows, int p0, int depth, T alpha, T* dst, nint panelStride)
        where T : unmanaged
    {
        const int R = GemmMicroKernel.Rows;
        bool unitAlpha = IsOne(alpha);
        for (int ir = 0; ir < rows; ir += R)
        {
            int mr = Math.Min(R, rows - ir);
            T* panel = dst + ir / R * panelStride;
            if (typeof(T) == typeof(float) && unitAlpha && Avx.IsSupported)
            {
                if (transpose) PackTransposedFloatRowPanel((float*)a + (nint)p0 * lda + i0 + ir, lda, depth, mr, (float*)panel);
                else PackFloatRowPanel((float*)a + (nint)(i0 + ir) * lda + p0, lda, depth, mr, (float*)panel);
            }
            else if (transpose)
            {
                // op(A)(i, p) = a[p * lda + i]: the panel's rows sit side by side in memory.
                T* src = a + (nint)p0 * lda + i0 + ir;
                for (int p = 0; p < depth; p++, src += lda, panel += R)
                {
                    int r = 0;
                    for (; r < mr; r++) panel[r] = unitAlpha ? src[r] : Multiply(alpha, src[r]);
                    for (; r < R; r++) panel[r] = default;
                }
            }
            else
            {
                // op(A)(i, p) = a[i * lda + p]: walk each row contiguously, writing with a stride of R.
                int r = 0;
                for (; r < mr; r++)
                {
                    T* src = a + (nint)(i0 + ir + r) * lda + p0;
                    T* d = panel + r;
                    if (unitAlpha) for (int p = 0; p < depth; p++) d[p * R] = src[p];
                    else for (int p = 0; p < depth; p++) d[p * R] = Multiply(alpha, src[p]);
                }
                for (; r < R; r++)
                {
                    T* d = panel + r;
                    for (int p = 0; p < depth; p++) d[p * R] = default;
                }
            }
        }
    }

    /// <summary>Slack, in elements, that a packed-A buffer needs past its last panel: the vector paths
    /// store 8 floats where a k step holds 6, the next step overwriting the 2 extra.</summary>
    public const int PackedASlack = 8;

    /// <summary>A 6-row float panel (the last <c>6 - rows</c> rows zero) from row-major A: eight k steps at a
    /// time, the rows (plus zero rows) go through an 8x8 register transpose and each k step's column is stored
    /// with one vector.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackFloatRowPanel(float* src, nint lda, int depth, int rows, float* panel)
    {
        int p = 0;
        var zero = Vector256<float>.Zero;
        for (; p + 8 <= depth; p += 8)
        {
            var r0 = Vector256.Load(src + p);
            var r1 = rows > 1 ? Vector256.Load(src + lda + p) : zero;
            var r2 = rows > 2 ? Vector256.Load(src + 2 * lda + p) : zero;
            var r3 = rows > 3 ? Vector256.Load(src + 3 * lda + p) : zero;
            var r4 = rows > 4 ? Vector256.Load(src + 4 * lda + p) : zero;
            var r5 = rows > 5 ? Vector256.Load(src + 5 * lda + p) : zero;
            var r6 = zero;
            var r7 = zero;
            VectorTranspose.Transpose8x8(ref r0, ref r1, ref r2, ref r3, ref r4, ref r5, ref r6, ref r7);
            float* d = panel + p * 6;
            r0.Store(d);
            r1.Store(d + 6);
            r2.Store(d + 12);
            r3.Store(d + 18);
            r4.Store(d + 24);
            r5.Store(d + 30);
            r6.Store(d + 36);
            r7.Store(d + 42);
        }
        for (; p < depth; p++)
            for (int r = 0; r < 6; r++) panel[p * 6 + r] = r < rows ? src[r * lda + p] : 0f;
    }

    /// <summary>A 6-row float panel (the last <c>6 - rows</c> rows zero) from column-major (transposed) A: each
    /// k step's values are contiguous, copied with one 8-wide vector whose two extra lanes the next step
    /// overwrites. A full panel reads two floats past its rows except at the last step; a partial one reads
    /// its rows only, through a mask.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackTransposedFloatRowPanel(float* src, nint lda, int depth, int rows, float* panel)
    {
        int p = 0;
        if (rows == 6)
        {
            for (; p + 1 < depth; p++, src += lda) Vector256.Load(src).Store(panel + p * 6);
            for (int r = 0; r < 6; r++) panel[p * 6 + r] = src[r];
            return;
        }
        var mask = GemmMicroKernel.ColumnMask<float>(rows);
        for (; p < depth; p++, src += lda) Avx.MaskLoad(src, mask).Store(panel + p * 6);
    }

    /// <summary>Packs depth [p0, p0+depth) and columns [j0, j0+columns) of op(B) into micro-panels of
    /// <paramref name="nr"/> columns (a multiple of 8) that start <paramref name="panelStride"/> elements apart.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackB<T>(bool transpose, T* b, nint ldb, int p0, int depth, int j0, int columns, int nr, T* dst, nint panelStride)
        where T : unmanaged
    {
        int v = Vector256<T>.Count;
        int fullColumns = transpose ? 0 : columns / nr * nr;
        // op(B)(p, j) = b[p * ldb + j]: walk B row by row (sequential reads the prefetcher follows; a
        // panel at a time would read 64 bytes from each of kc rows), dealing each row out to the full panels.
        for (int p = 0; p < depth && fullColumns > 0; p++)
        {
            T* src = b + (nint)(p0 + p) * ldb + j0;
            T* d = dst + (nint)p * nr;
            for (int jr = 0; jr < fullColumns; jr += nr, src += nr, d += panelStride)
                for (int q = 0; q < nr; q += v) Vector256.Load(src + q).StoreAligned(d + q);
        }
        for (int jr = fullColumns; jr < columns; jr += nr)
        {
            int width = Math.Min(nr, columns - jr);
            T* panel = dst + jr / nr * panelStride;
            if (!transpose)
            {
                // The last, partial panel: each k step is a contiguous run of its columns, zero-padded.
                T* src = b + (nint)p0 * ldb + j0 + jr;
                if (typeof(T) == typeof(float) && Avx.IsSupported)
                {
                    for (int p = 0; p < depth; p++, src += ldb, panel += nr)
                        for (int q = 0; q < nr; q += v)
                            Avx.MaskLoad((float*)src + q, GemmMicroKernel.ColumnMask<float>(width - q)).StoreAligned((float*)panel + q);
                }
                else
                {
                    for (int p = 0; p < depth; p++, src += ldb, panel += nr)
                    {
                        int j = 0;
                        for (; j < width; j++) panel[j] = src[j];
                        for (; j < nr; j++) panel[j] = default;
                    }
                }
            }
            else if (typeof(T) == typeof(float) && Avx.IsSupported)
            {
                PackTransposedFloatPanel((float*)b + (nint)(j0 + jr) * ldb + p0, ldb, depth, width, nr, (float*)panel);
            }
            else
            {
                // op(B)(p, j) = b[j * ldb + p]: walk each column's source row contiguously.
                int j = 0;
                for (; j < width; j++)
                {
                    T* src = b + (nint)(j0 + jr + j) * ldb + p0;
                    T* d = panel + j;
                    for (int p = 0; p < depth; p++) d[p * nr] = src[p];
                }
                for (; j < nr; j++)
                {
                    T* d = panel + j;
                    for (int p = 0; p < depth; p++) d[p * nr] = default;
                }
            }
        }
    }

    /// <summary>Transposed packing of a float panel: <paramref name="width"/> source rows (one per output column,
    /// contiguous in p) become [p][nr], columns past the width zero. Done 8x8 at a time with register transposes,
    /// several times faster than the scalar gather; it matters where B is read transposed with a short m, e.g.
    /// a convolution's weight gradient.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackTransposedFloatPanel(float* src, nint ld, int depth, int width, int nr, float* panel)
    {
        int p = 0;
        for (; p + 8 <= depth; p += 8)
            for (int g = 0; g < nr; g += 8)
                Transpose8x8(src + g * ld + p, ld, width - g, panel + p * nr + g, nr);
        for (; p < depth; p++)
            for (int j = 0; j < nr; j++) panel[p * nr + j] = j < width ? src[j * ld + p] : 0f;
    }

    /// <summary>Reads <paramref name="rows"/> (at most 8; zero rows for the rest) rows of 8 floats (row stride
    /// <paramref name="ld"/>) and writes their transpose as 8 rows <paramref name="dstStride"/> floats apart.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose8x8(float* src, nint ld, int rows, float* dst, int dstStride)
    {
        var zero = Vector256<float>.Zero;
        var r0 = rows > 0 ? Vector256.Load(src) : zero;
        var r1 = rows > 1 ? Vector256.Load(src + ld) : zero;
        var r2 = rows > 2 ? Vector256.Load(src + 2 * ld) : zero;
        var r3 = rows > 3 ? Vector256.Load(src + 3 * ld) : zero;
        var r4 = rows > 4 ? Vector256.Load(src + 4 * ld) : zero;
        var r5 = rows > 5 ? Vector256.Load(src + 5 * ld) : zero;
        var r6 = rows > 6 ? Vector256.Load(src + 6 * ld) : zero;
        var r7 = rows > 7 ? Vector256.Load(src + 7 * ld) : zero;
        VectorTranspose.Transpose8x8(ref r0, ref r1, ref r2, ref r3, ref r4, ref r5, ref r6, ref r7);
        r0.StoreAligned(dst);
        r1.StoreAligned(dst + dstStride);
        r2.StoreAligned(dst + 2 * dstStride);
        r3.StoreAligned(dst + 3 * dstStride);
        r4.StoreAligned(dst + 4 * dstStride);
        r5.StoreAligned(dst + 5 * dstStride);
        r6.StoreAligned(dst + 6 * dstStride);
        r7.StoreAligned(dst + 7 * dstStride);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool IsOne<T>(T x) where T : unmanaged
        => typeof(T) == typeof(float) ? (float)(object)x == 1f : (double)(object)x == 1.0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static T Multiply<T>(T x, T y) where T : unmanaged
    {
        if (typeof(T) == typeof(float)) return (T)(object)((float)(object)x * (float)(object)y);
        return (T)(object)((double)(object)x * (double)(object)y);
    }
}
