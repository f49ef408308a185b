using System.Runtime.CompilerServices;

namespace Vicreg.Engine.Backends.Cpu.Gemm;

/// <summary>
/// The scalar end of an edge tile: merges a row of computed values into C under the GEMM's beta mode, one element
/// at a time, for the columns a vector store may not touch. Shared by the AVX2 and AVX-512 micro-kernels.
/// </summary>
internal static unsafe class ScalarMerge
{
    /// <summary>C[j] = src[j] (overwrite), C[j] += src[j] (accumulate) or C[j] = src[j] + beta C[j], for j below <paramref name="columns"/>.</summary>
    public static void Row<T>(T* dst, T* src, int columns, BetaMode mode, T beta) where T : unmanaged
    {
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
