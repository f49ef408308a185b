using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Vicreg.Engine.Backends.Cpu.Gemm;

/// <summary>Which micro-kernel the GEMM runs: the widest the machine has unless a test forces another.</summary>
internal enum GemmPath
{
    Auto,
    /// <summary>6 x (2 x Vector512) tiles with AVX-512 FMA: 6x32 floats, 6x16 doubles.</summary>
    Avx512,
    /// <summary>6 x (2 x Vector256) tiles with FMA3: 6x16 floats, 6x8 doubles.</summary>
    Avx2,
    /// <summary>The Vector256 tile with a separate multiply and add: runs anywhere.</summary>
    Portable,
}

/// <summary>A register-blocked micro-kernel: C[rows x columns] (op)= packed A [kc][6] · B [kc][Columns], B's k steps
/// bStride elements apart (Columns when packed; B's leading dimension when read in place).
/// A type argument of the GEMM driver, so each choice compiles to its own specialised loop nest.</summary>
internal unsafe interface IGemmMicroKernel
{
    /// <summary>Columns of one C tile (and of one packed B micro-panel).</summary>
    static abstract int Columns<T>() where T : unmanaged;

    static abstract void Run<T>(int kc, T* a, T* b, nint bStride, T* c, nint ldc, BetaMode mode, T beta, int rows, int columns) where T : unmanaged;
}

internal readonly unsafe struct Avx2MicroKernel : IGemmMicroKernel
{
    public static int Columns<T>() where T : unmanaged => 2 * Vector256<T>.Count;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Run<T>(int kc, T* a, T* b, nint bStride, T* c, nint ldc, BetaMode mode, T beta, int rows, int columns) where T : unmanaged
        => GemmMicroKernel.Run<T, FusedVectorMath>(kc, a, b, bStride, c, ldc, mode, beta, rows, columns);
}

internal readonly unsafe struct PortableMicroKernel : IGemmMicroKernel
{
    public static int Columns<T>() where T : unmanaged => 2 * Vector256<T>.Count;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Run<T>(int kc, T* a, T* b, nint bStride, T* c, nint ldc, BetaMode mode, T beta, int rows, int columns) where T : unmanaged
        => GemmMicroKernel.Run<T, PortableVectorMath>(kc, a, b, bStride, c, ldc, mode, beta, rows, columns);
}

internal readonly unsafe struct Avx512MicroKernel : IGemmMicroKernel
{
    public static int Columns<T>() where T : unmanaged => 2 * Vector512<T>.Count;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Run<T>(int kc, T* a, T* b, nint bStride, T* c, nint ldc, BetaMode mode, T beta, int rows, int columns) where T : unmanaged
        => GemmMicroKernel512.Run(kc, a, b, bStride, c, ldc, mode, beta, rows, columns);

    public static bool IsSupported => Avx512F.IsSupported;
}
