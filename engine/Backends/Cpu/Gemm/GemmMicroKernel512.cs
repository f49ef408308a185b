using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Vicreg.Engine.Backends.Cpu.Gemm;

/// <summary>
/// The AVX-512 twin of <see cref="GemmMicroKernel"/>: the same 6-row tile, each row two Vector512
/// accumulators (6x32 floats, 6x16 doubles). On cores with full-width 512-bit FMA units (Zen 5, Xeon)
/// it does twice the work per instruction of the 256-bit kernel; the packing of A is shared, B panels
/// are twice as wide. Only valid when <see cref="Avx512F.IsSupported"/>.
/// </summary>
internal static unsafe class GemmMicroKernel512
{
    public const int Rows = GemmMicroKernel.Rows;


    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    [SkipLocalsInit]
    public static void Run<T>(int kc, T* a, T* b, nint bStride, T* c, nint ldc, BetaMode mode, T beta, int rows, int columns)
        where T : unmanaged
    {
        int v = Vector512<T>.Count;
        Vector512<T> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector512<T> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;

        // Two k steps per iteration halve the loop overhead; the remainder step follows.
        int p = 0;
        for (; p + 2 <= kc; p += 2)
        {
            var b0 = Vector512.Load(b);
            var b1 = Vector512.Load(b + v);
            var a0 = Vector512.Create(a[0]);
            c00 = MultiplyAdd(a0, b0, c00); c01 = MultiplyAdd(a0, b1, c01);
            a0 = Vector512.Create(a[1]);
            c10 = MultiplyAdd(a0, b0, c10); c11 = MultiplyAdd(a0, b1, c11);
            a0 = Vector512.Create(a[2]);
            c20 = MultiplyAdd(a0, b0, c20); c21 = MultiplyAdd(a0, b1, c21);
            a0 = Vector512.Create(a[3]);
            c30 = MultiplyAdd(a0, b0, c30); c31 = MultiplyAdd(a0, b1, c31);
            a0 = Vector512.Create(a[4]);
            c40 = MultiplyAdd(a0, b0, c40); c41 = MultiplyAdd(a0, b1, c41);
            a0 = Vector512.Create(a[5]);
            c50 = MultiplyAdd(a0, b0, c50); c51 = MultiplyAdd(a0, b1, c51);

            b0 = Vector512.Load(b + bStride);
            b1 = Vector512.Load(b + bStride + v);
            a0 = Vector512.Create(a[6]);
            c00 = MultiplyAdd(a0, b0, c00); c01 = MultiplyAdd(a0, b1, c01);
            a0 = Vector512.Create(a[7]);
            c10 = MultiplyAdd(a0, b0, c10); c11 = MultiplyAdd(a0, b1, c11);
            a0 = Vector512.Create(a[8]);
            c20 = MultiplyAdd(a0, b0, c20); c21 = MultiplyAdd(a0, b1, c21);
            a0 = Vector512.Create(a[9]);
            c30 = MultiplyAdd(a0, b0, c30); c31 = MultiplyAdd(a0, b1, c31);
            a0 = Vector512.Create(a[10]);
            c40 = MultiplyAdd(a0, b0, c40); c41 = MultiplyAdd(a0, b1, c41);
            a0 = Vector512.Create(a[11]);
            c50 = MultiplyAdd(a0, b0, c50); c51 = MultiplyAdd(a0, b1, c51);
            a += 2 * Rows;
            b += 2 * bStride;
        }
        if (p < kc)
        {
            var b0 = Vector512.Load(b);
            var b1 = Vector512.Load(b + v);
            var a0 = Vector512.Create(a[0]);
            c00 = MultiplyAdd(a0, b0, c00); c01 = MultiplyAdd(a0, b1, c01);
            a0 = Vector512.Create(a[1]);
            c10 = MultiplyAdd(a0, b0, c10); c11 = MultiplyAdd(a0, b1, c11);
            a0 = Vector512.Create(a[2]);
            c20 = MultiplyAdd(a0, b0, c20); c21 = MultiplyAdd(a0, b1, c21);
            a0 = Vector512.Create(a[3]);
            c30 = MultiplyAdd(a0, b0, c30); c31 = MultiplyAdd(a0, b1, c31);
            a0 = Vector512.Create(a[4]);
            c40 = MultiplyAdd(a0, b0, c40); c41 = MultiplyAdd(a0, b1, c41);
            a0 = Vector512.Create(a[5]);
            c50 = MultiplyAdd(a0, b0, c50); c51 = MultiplyAdd(a0, b1, c51);
        }

        if (rows == Rows && columns == 2 * v)
        {
            StoreRow<T>(c, v, c00, c01, mode, beta);
            StoreRow<T>(c + ldc, v, c10, c11, mode, beta);
            StoreRow<T>(c + 2 * ldc, v, c20, c21, mode, beta);
            StoreRow<T>(c + 3 * ldc, v, c30, c31, mode, beta);
            StoreRow<T>(c + 4 * ldc, v, c40, c41, mode, beta);
            StoreRow<T>(c + 5 * ldc, v, c50, c51, mode, beta);
            return;
        }

        // Edge tile: spill the full tile, then merge only the valid rows x columns into C.
        T* tile = stackalloc T[Rows * 32];
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
            ScalarMerge.Row(dst, src, columns, mode, beta);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow<T>(T* c, int v, Vector512<T> lo, Vector512<T> hi, BetaMode mode, T beta)
        where T : unmanaged
    {
        switch (mode)
        {
            case BetaMode.Overwrite:
                break;
            case BetaMode.Accumulate:
                lo += Vector512.Load(c);
                hi += Vector512.Load(c + v);
                break;
            default:
                var vb = Vector512.Create(beta);
                lo = MultiplyAdd(vb, Vector512.Load(c), lo);
                hi = MultiplyAdd(vb, Vector512.Load(c + v), hi);
                break;
        }
        lo.Store(c);
        hi.Store(c + v);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<T> MultiplyAdd<T>(Vector512<T> a, Vector512<T> b, Vector512<T> addend) where T : unmanaged
    {
        if (typeof(T) == typeof(float)) return Avx512F.FusedMultiplyAdd(a.AsSingle(), b.AsSingle(), addend.AsSingle()).As<float, T>();
        if (typeof(T) == typeof(double)) return Avx512F.FusedMultiplyAdd(a.AsDouble(), b.AsDouble(), addend.AsDouble()).As<double, T>();
        throw new NotSupportedException($"GEMM on {typeof(T).Name}");
    }
}
