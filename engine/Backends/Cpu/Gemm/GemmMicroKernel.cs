using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Vicreg.Engine.Backends.Cpu.Gemm;

/// <summary>How the micro-kernel combines its product with what C holds.</summary>
internal enum BetaMode
{
    /// <summary>C = product (C is not read, so garbage or NaN in C is ignored, as BLAS).</summary>
    Overwrite,
    /// <summary>C += product (every k block after the first).</summary>
    Accumulate,
    /// <summary>C = product + beta C.</summary>
    Scale,
}

/// <summary>
/// The register-blocked heart of the GEMM: a <see cref="Rows"/> x (2 vectors) tile of C held in twelve
/// Vector256 accumulators (6x16 floats, 6x8 doubles) while it walks kc steps of a packed A micro-panel
/// ([kc][Rows], alpha already folded in) and a B micro-panel ([kc][2 vectors], packed or read in place). Each k step is two
/// loads of B, six broadcasts of A and twelve multiply-adds; nothing else touches memory, so the
/// loop runs at the machine's FMA throughput. Edge tiles compute the full width (the packs are zero-padded)
/// and write only the valid corner; an edge of at most four rows runs a four-row loop.
/// </summary>
internal static unsafe class GemmMicroKernel
{
    public const int Rows = 6;

    /// <summary>Columns of a C tile: two 256-bit vectors of T.</summary>
    public static int Columns<T>() where T : unmanaged => 2 * Vector256<T>.Count;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    [SkipLocalsInit]
    public static void Run<T, TMath>(int kc, T* a, T* b, nint bStride, T* c, nint ldc, BetaMode mode, T beta, int rows, int columns)
        where T : unmanaged where TMath : struct, IVectorMath
    {
        if (rows <= 4)
        {
            RunFourRows<T, TMath>(kc, a, b, bStride, c, ldc, mode, beta, rows, columns);
            return;
        }
        int v = Vector256<T>.Count;
        PrefetchTile(c, ldc, Rows, 2 * v);
        Vector256<T> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<T> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;

        // Two k steps per iteration halve the loop overhead; the remainder step follows.
        int p = 0;
        for (; p + 2 <= kc; p += 2)
        {
            var b0 = Vector256.Load(b);
            var b1 = Vector256.Load(b + v);
            var a0 = Vector256.Create(a[0]);
            c00 = TMath.MultiplyAdd(a0, b0, c00); c01 = TMath.MultiplyAdd(a0, b1, c01);
            a0 = Vector256.Create(a[1]);
            c10 = TMath.MultiplyAdd(a0, b0, c10); c11 = TMath.MultiplyAdd(a0, b1, c11);
            a0 = Vector256.Create(a[2]);
            c20 = TMath.MultiplyAdd(a0, b0, c20); c21 = TMath.MultiplyAdd(a0, b1, c21);
            a0 = Vector256.Create(a[3]);
            c30 = TMath.MultiplyAdd(a0, b0, c30); c31 = TMath.MultiplyAdd(a0, b1, c31);
            a0 = Vector256.Create(a[4]);
            c40 = TMath.MultiplyAdd(a0, b0, c40); c41 = TMath.MultiplyAdd(a0, b1, c41);
            a0 = Vector256.Create(a[5]);
            c50 = TMath.MultiplyAdd(a0, b0, c50); c51 = TMath.MultiplyAdd(a0, b1, c51);

            b0 = Vector256.Load(b + bStride);
            b1 = Vector256.Load(b + bStride + v);
            a0 = Vector256.Create(a[6]);
            c00 = TMath.MultiplyAdd(a0, b0, c00); c01 = TMath.MultiplyAdd(a0, b1, c01);
            a0 = Vector256.Create(a[7]);
            c10 = TMath.MultiplyAdd(a0, b0, c10); c11 = TMath.MultiplyAdd(a0, b1, c11);
            a0 = Vector256.Create(a[8]);
            c20 = TMath.MultiplyAdd(a0, b0, c20); c21 = TMath.MultiplyAdd(a0, b1, c21);
            a0 = Vector256.Create(a[9]);
            c30 = TMath.MultiplyAdd(a0, b0, c30); c31 = TMath.MultiplyAdd(a0, b1, c31);
            a0 = Vector256.Create(a[10]);
            c40 = TMath.MultiplyAdd(a0, b0, c40); c41 = TMath.MultiplyAdd(a0, b1, c41);
            a0 = Vector256.Create(a[11]);
            c50 = TMath.MultiplyAdd(a0, b0, c50); c51 = TMath.MultiplyAdd(a0, b1, c51);
            a += 2 * Rows;
            b += 2 * bStride;
        }
        if (p < kc)
        {
            var b0 = Vector256.Load(b);
            var b1 = Vector256.Load(b + v);
            var a0 = Vector256.Create(a[0]);
            c00 = TMath.MultiplyAdd(a0, b0, c00); c01 = TMath.MultiplyAdd(a0, b1, c01);
            a0 = Vector256.Create(a[1]);
            c10 = TMath.MultiplyAdd(a0, b0, c10); c11 = TMath.MultiplyAdd(a0, b1, c11);
            a0 = Vector256.Create(a[2]);
            c20 = TMath.MultiplyAdd(a0, b0, c20); c21 = TMath.MultiplyAdd(a0, b1, c21);
            a0 = Vector256.Create(a[3]);
            c30 = TMath.MultiplyAdd(a0, b0, c30); c31 = TMath.MultiplyAdd(a0, b1, c31);
            a0 = Vector256.Create(a[4]);
            c40 = TMath.MultiplyAdd(a0, b0, c40); c41 = TMath.MultiplyAdd(a0, b1, c41);
            a0 = Vector256.Create(a[5]);
            c50 = TMath.MultiplyAdd(a0, b0, c50); c51 = TMath.MultiplyAdd(a0, b1, c51);
        }

        if (rows == Rows && columns == 2 * v)
        {
            StoreRow<T, TMath>(c, v, c00, c01, mode, beta);
            StoreRow<T, TMath>(c + ldc, v, c10, c11, mode, beta);
            StoreRow<T, TMath>(c + 2 * ldc, v, c20, c21, mode, beta);
            StoreRow<T, TMath>(c + 3 * ldc, v, c30, c31, mode, beta);
            StoreRow<T, TMath>(c + 4 * ldc, v, c40, c41, mode, beta);
            StoreRow<T, TMath>(c + 5 * ldc, v, c50, c51, mode, beta);
            return;
        }

        // Edge tile (five rows, or six of which only some columns exist): only the rows and columns of C that exist.
        StoreEdgeRow<T, TMath>(c, v, c00, c01, mode, beta, columns);
        StoreEdgeRow<T, TMath>(c + ldc, v, c10, c11, mode, beta, columns);
        StoreEdgeRow<T, TMath>(c + 2 * ldc, v, c20, c21, mode, beta, columns);
        StoreEdgeRow<T, TMath>(c + 3 * ldc, v, c30, c31, mode, beta, columns);
        StoreEdgeRow<T, TMath>(c + 4 * ldc, v, c40, c41, mode, beta, columns);
        if (rows > 5) StoreEdgeRow<T, TMath>(c + 5 * ldc, v, c50, c51, mode, beta, columns);
    }

    /// <summary>The last rows of C (at most 4 of a panel): the same loop on four rows of the packed panel
    /// (still [kc][Rows]), eight accumulators, so a short edge does a third less work than a full tile.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    [SkipLocalsInit]
    private static void RunFourRows<T, TMath>(int kc, T* a, T* b, nint bStride, T* c, nint ldc, BetaMode mode, T beta, int rows, int columns)
        where T : unmanaged where TMath : struct, IVectorMath
    {
        int v = Vector256<T>.Count;
        PrefetchTile(c, ldc, 4, 2 * v);
        Vector256<T> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<T> c30 = default, c31 = default;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector256.Load(b);
            var b1 = Vector256.Load(b + v);
            var a0 = Vector256.Create(a[0]);
            c00 = TMath.MultiplyAdd(a0, b0, c00); c01 = TMath.MultiplyAdd(a0, b1, c01);
            a0 = Vector256.Create(a[1]);
            c10 = TMath.MultiplyAdd(a0, b0, c10); c11 = TMath.MultiplyAdd(a0, b1, c11);
            a0 = Vector256.Create(a[2]);
            c20 = TMath.MultiplyAdd(a0, b0, c20); c21 = TMath.MultiplyAdd(a0, b1, c21);
            a0 = Vector256.Create(a[3]);
            c30 = TMath.MultiplyAdd(a0, b0, c30); c31 = TMath.MultiplyAdd(a0, b1, c31);
            a += Rows;
            b += bStride;
        }
        StoreEdgeRow<T, TMath>(c, v, c00, c01, mode, beta, columns);
        if (rows > 1) StoreEdgeRow<T, TMath>(c + ldc, v, c10, c11, mode, beta, columns);
        if (rows > 2) StoreEdgeRow<T, TMath>(c + 2 * ldc, v, c20, c21, mode, beta, columns);
        if (rows > 3) StoreEdgeRow<T, TMath>(c + 3 * ldc, v, c30, c31, mode, beta, columns);
    }

    /// <summary>Asks for the tile's rows of C (first and last element of each: a row may straddle two lines) while
    /// the k loop runs, so that its stores at the end do not wait for memory. Only hints: a prefetch past the end
    /// of C does not fault.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PrefetchTile<T>(T* c, nint ldc, int rows, int width) where T : unmanaged
    {
        if (!Sse.IsSupported) return;
        for (int i = 0; i < rows; i++, c += ldc)
        {
            Sse.Prefetch0(c);
            Sse.Prefetch0(c + width - 1);
        }
    }

    /// <summary>One row of an edge tile: whole (vector stores), or its first <paramref name="columns"/> through
    /// masked loads and stores, or (without AVX) spilled and merged element by element.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreEdgeRow<T, TMath>(T* c, int v, Vector256<T> lo, Vector256<T> hi, BetaMode mode, T beta, int columns)
        where T : unmanaged where TMath : struct, IVectorMath
    {
        if (columns == 2 * v) StoreRow<T, TMath>(c, v, lo, hi, mode, beta);
        else if (Avx.IsSupported) StoreMaskedRow<T, TMath>(c, v, lo, hi, ColumnMask<T>(columns), ColumnMask<T>(columns - v), mode, beta);
        else MergeRow(c, v, lo, hi, mode, beta, columns);
    }

    /// <summary>The first <paramref name="columns"/> of a row, spilled and merged element by element.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    [SkipLocalsInit]
    private static void MergeRow<T>(T* dst, int v, Vector256<T> lo, Vector256<T> hi, BetaMode mode, T beta, int columns) where T : unmanaged
    {
        T* src = stackalloc T[16];
        lo.Store(src);
        hi.Store(src + v);
        ScalarMerge.Row(dst, src, columns, mode, beta);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow<T, TMath>(T* c, int v, Vector256<T> lo, Vector256<T> hi, BetaMode mode, T beta)
        where T : unmanaged where TMath : struct, IVectorMath
    {
        switch (mode)
        {
            case BetaMode.Overwrite:
                break;
            case BetaMode.Accumulate:
                lo += Vector256.Load(c);
                hi += Vector256.Load(c + v);
                break;
            default:
                var vb = Vector256.Create(beta);
                lo = TMath.MultiplyAdd(vb, Vector256.Load(c), lo);
                hi = TMath.MultiplyAdd(vb, Vector256.Load(c + v), hi);
                break;
        }
        lo.Store(c);
        hi.Store(c + v);
    }

    /// <summary>All-ones in the first <paramref name="count"/> lanes (none when count &lt;= 0).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<T> ColumnMask<T>(int count) where T : unmanaged
    {
        if (typeof(T) == typeof(float)) return Vector256.LessThan(Vector256<int>.Indices, Vector256.Create(count)).As<int, T>();
        return Vector256.LessThan(Vector256<long>.Indices, Vector256.Create((long)count)).As<long, T>();
    }

    /// <summary><see cref="StoreRow{T, TMath}"/> for the lanes of <paramref name="maskLo"/> and <paramref name="maskHi"/>
    /// only: the others of C are neither read nor written.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreMaskedRow<T, TMath>(T* c, int v, Vector256<T> lo, Vector256<T> hi, Vector256<T> maskLo, Vector256<T> maskHi,
        BetaMode mode, T beta) where T : unmanaged where TMath : struct, IVectorMath
    {
        switch (mode)
        {
            case BetaMode.Overwrite:
                break;
            case BetaMode.Accumulate:
                lo += MaskLoad(c, maskLo);
                hi += MaskLoad(c + v, maskHi);
                break;
            default:
                var vb = Vector256.Create(beta);
                lo = TMath.MultiplyAdd(vb, MaskLoad(c, maskLo), lo);
                hi = TMath.MultiplyAdd(vb, MaskLoad(c + v, maskHi), hi);
                break;
        }
        MaskStore(c, maskLo, lo);
        MaskStore(c + v, maskHi, hi);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<T> MaskLoad<T>(T* p, Vector256<T> mask) where T : unmanaged
    {
        if (typeof(T) == typeof(float)) return Avx.MaskLoad((float*)p, mask.AsSingle()).As<float, T>();
        return Avx.MaskLoad((double*)p, mask.AsDouble()).As<double, T>();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void MaskStore<T>(T* p, Vector256<T> mask, Vector256<T> value) where T : unmanaged
    {
        if (typeof(T) == typeof(float)) Avx.MaskStore((float*)p, mask.AsSingle(), value.AsSingle());
        else Avx.MaskStore((double*)p, mask.AsDouble(), value.AsDouble());
    }
}
