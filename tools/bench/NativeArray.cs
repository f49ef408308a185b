using System.Runtime.InteropServices;
using Vicreg.Engine;

namespace Vicreg.Bench;

/// <summary>A 64-byte aligned native float buffer filled with seeded uniform noise in [-1, 1).</summary>
public sealed unsafe class NativeArray : IDisposable
{
    public float* Pointer { get; private set; }
    public long Length { get; }

    public NativeArray(long length, ulong seed)
    {
        Length = Math.Max(1, length);
        Pointer = (float*)NativeMemory.AlignedAlloc((nuint)(Length * sizeof(float)), 64);
        var rng = new Rng(seed);
        for (long i = 0; i < Length; i++) Pointer[i] = (float)rng.Uniform(-1, 1);
    }

    public void Dispose()
    {
        if (Pointer != null) NativeMemory.AlignedFree(Pointer);
        Pointer = null;
    }
}
