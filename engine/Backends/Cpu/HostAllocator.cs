using System.Runtime.InteropServices;

namespace Vicreg.Engine.Backends.Cpu;

/// <summary>64-byte aligned native host memory (a cache line, and two AVX2 vectors), recycled by size.</summary>
internal sealed unsafe class HostAllocator : CachingAllocator
{
    public const int Alignment = 64;

    protected override nint AllocateFromSystem(long bytes)
    {
        void* p = NativeMemory.AlignedAlloc((nuint)bytes, Alignment);
        if (p == null) throw new OutOfMemoryException($"host allocation of {bytes} bytes failed");
        return (nint)p;
    }

    protected override void FreeToSystem(nint pointer, long bytes) => NativeMemory.AlignedFree((void*)pointer);
}
