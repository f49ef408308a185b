using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Vicreg.Engine.Backends.Cpu.Kernels;

/// <summary>
/// The gradient a batch-norm backward reads for its output, element i counted from where the value points: dy as
/// given (<see cref="PlainGradient{T}"/>), or dy through the ReLU fused after the batch norm
/// (<see cref="ReluGradient{T}"/>). A struct, so each kind gets its own specialised, inlined loop.
/// </summary>
internal interface IOutputGradient<T, TSelf> where T : unmanaged where TSelf : struct, IOutputGradient<T, TSelf>
{
    /// <summary>The same gradient from element <paramref name="offset"/> on.</summary>
    TSelf At(long offset);
    T this[long i] { get; }
    Vector256<T> Load(long i);
}

internal readonly unsafe struct PlainGradient<T>(T* dy) : IOutputGradient<T, PlainGradient<T>> where T : unmanaged, IFloatingPointIeee754<T>
{
    public PlainGradient<T> At(long offset) => new(dy + offset);
    public T this[long i] => dy[i];
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<T> Load(long i) => Vector256.Load(dy + i);
}

/// <summary>dy where the ReLU's output y &gt; 0, else 0: ReLU's backward (the very operator of the unfused
/// one, so the results agree bit for bit), read on the fly instead of stored.</summary>
internal readonly unsafe struct ReluGradient<T>(T* dy, T* y) : IOutputGradient<T, ReluGradient<T>> where T : unmanaged, IFloatingPointIeee754<T>
{
    public ReluGradient<T> At(long offset) => new(dy + offset, y + offset);
    public T this[long i] => new ReluBackwardOp<T>().Apply(y[i], dy[i]);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<T> Load(long i) => new ReluBackwardOp<T>().Apply(Vector256.Load(y + i), Vector256.Load(dy + i));
}
