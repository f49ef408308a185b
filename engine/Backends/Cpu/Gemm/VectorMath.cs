using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Vicreg.Engine.Backends.Cpu.Gemm;

/// <summary>The multiply-add the GEMM micro-kernel is built on, chosen once per call as a type argument
/// so that the JIT compiles one specialised kernel per choice with no branch in the inner loop.</summary>
internal interface IVectorMath
{
    static abstract Vector256<T> MultiplyAdd<T>(Vector256<T> a, Vector256<T> b, Vector256<T> addend) where T : unmanaged;
}

/// <summary>Hardware FMA (x86 FMA3): one rounding per multiply-add. Only valid when <see cref="Fma.IsSupported"/>.</summary>
internal readonly struct FusedVectorMath : IVectorMath
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> MultiplyAdd<T>(Vector256<T> a, Vector256<T> b, Vector256<T> addend) where T : unmanaged
    {
        if (typeof(T) == typeof(float)) return Fma.MultiplyAdd(a.AsSingle(), b.AsSingle(), addend.AsSingle()).As<float, T>();
        if (typeof(T) == typeof(double)) return Fma.MultiplyAdd(a.AsDouble(), b.AsDouble(), addend.AsDouble()).As<double, T>();
        throw new NotSupportedException($"GEMM on {typeof(T).Name}");
    }
}

/// <summary>Multiply then add with the portable Vector256 operators: runs everywhere (in software where
/// the machine lacks 256-bit vectors), rounding twice per step.</summary>
internal readonly struct PortableVectorMath : IVectorMath
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> MultiplyAdd<T>(Vector256<T> a, Vector256<T> b, Vector256<T> addend) where T : unmanaged
        => a * b + addend;
}
