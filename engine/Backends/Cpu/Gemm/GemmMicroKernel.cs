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
/// ([kc][Rows], alpha already folded in) and a packed B micro-panel ([kc][2 vectors]). Each k step is two
/// aligned loads of B, six broadcasts of A and twelve multiply-adds; nothing else touches memory, so the
/// loop runs at the machine's FMA throughput. Edge tiles compute the full tile (the packs are zero-padded)
/// and write only the valid corner.
/// </summary>
internal static unsafe class GemmMicroKernel
{
    public const int Rows = 6;

    /// <summary>Columns of a C tile: two 256-bit vectors of T.</summary>
    public static int Columns<T>() where T : unmanaged => 2 * Vector256<T>.Count;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    [SkipLocalsInit]
    public static void Run<T, TMath>(int kc, T* a, T* b, T* c, nint ldc, BetaMode mode, T beta, int rows, int columns)
        where T : unmanaged where TMath : struct, IVectorMath
    {
        int v = Vector256<T>.Count;
        Vector256<T> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<T> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;

        // Two k steps per iteration halve the loop overhead; the remainder step follows.
        int p = 0;
        for (; p + 2 <= kc; p += 2)
        {
            var b0 = Vector256.LoadAligned(b);
            var b1 = Vector256.LoadAligned(b + v);
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

            b0 = Vector256.LoadAligned(b + 2 * v);
            b1 = Vector256.LoadAligned(b + 3 * v);
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
            b += 4 * v;
        }
        if (p < kc)
        {
            var b0 = Vector256.LoadAligned(b);
            var b1 = Vector256.LoadAligned(b + v);
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

        if (columns == 2 * v)
        {
            // The last rows of C: whole rows stored as vectors, only those that exist.
            StoreRow<T, TMath>(c, v, c00, c01, mode, beta);
            if (rows > 1) StoreRow<T, TMath>(c + ldc, v, c10, c11, mode, beta);
            if (rows > 2) StoreRow<T, TMath>(c + 2 * ldc, v, c20, c21, mode, beta);
            if (rows > 3) StoreRow<T, TMath>(c + 3 * ldc, v, c30, c31, mode, beta);
            if (rows > 4) StoreRow<T, TMath>(c + 4 * ldc, v, c40, c41, mode, beta);
            return;
        }
        if (Avx.IsSupported)
        {
            // The last columns of C: masked loads and stores touch only the columns that exist.
            var lo = ColumnMask<T>(columns);
            var hi = ColumnMask<T>(columns - v);
            StoreMaskedRow<T, TMath>(c, v, c00, c01, lo, hi, mode, beta);
            if (rows > 1) StoreMaskedRow<T, TMath>(c + ldc, v, c10, c11, lo, hi, mode, beta);
            if (rows > 2) StoreMaskedRow<T, TMath>(c + 2 * ldc, v, c20, c21, lo, hi, mode, beta);
            if (rows > 3) StoreMaskedRow<T, TMath>(c + 3 * ldc, v, c30, c31, lo, hi, mode, beta);
            if (rows > 4) StoreMaskedRow<T, TMath>(c + 4 * ldc, v, c40, c41, lo, hi, mode, beta);
            if (rows > 5) StoreMaskedRow<T, TMath>(c + 5 * ldc, v, c50, c51, lo, hi, mode, beta);
            return;
        }

        // Edge tile without AVX: spill the full tile, then merge only the valid rows x columns into C.
        T* tile = stackalloc T[Rows * 16];
        int w = 2 * v;
        c00.Store(tile); c01.Store(tile + v);
        c10.Store(tile + w); c11.Store(tile + w + v);
        c20.Store(tile + 2 * w); c21.Store(tile + 2 * w + v);
        c30.Store(tile + 3 * w); c31.Store(tile + 3 * w + v);
        c40.Store(tile + 4 * w); c41.Store(tile + 4 * w + v);
        c50.Store(tile + 5 * w); c51.Store(tile + 5 * w + v);
        for (int i = 0; i < rows; i++)
        {
            T* src = tile + i * w;
            T* dst = c + i * ldc;
            switch (mode)
            {
                case BetaMode.Overwrite:
                    for (int j = 0; j < columns; j++) dst[j] = src[j];
                    break;
                case BetaMode.Accumulate:
                    for (int j = 0; j < columns; j++) dst[j] = Add(dst[j], src[j]);
                    break;
                default:
                    for (int j = 0; j < columns; j++) dst[j] = Add(src[j], Multiply(beta, dst[j]));
                    break;
            }
        }
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
    private static Vector256<T> ColumnMask<T>(int count) where T : unmanaged
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

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static T Add<T>(T x, T y) where T : unmanaged
    {
        if (typeof(T) == typeof(float)) return (T)(object)((float)(object)x + (float)(object)y);
        return (T)(object)((double)(object)x + (double)(object)y);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static T Multiply<T>(T x, T y) where T : unmanaged
    {
        if (typeof(T) == typeof(float)) return (T)(object)((float)(object)x * (float)(object)y);
        return (T)(object)((double)(object)x * (double)(object)y);
    }
}
