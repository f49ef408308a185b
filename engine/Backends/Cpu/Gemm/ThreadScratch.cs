using System.Runtime.InteropServices;

namespace Vicreg.Engine.Backends.Cpu.Gemm;

/// <summary>Which per-thread scratch buffer a kernel wants; each slot is grown independently, so a
/// kernel can hold several at once (e.g. a convolution's columns while its GEMM packs panels).</summary>
internal enum ScratchSlot
{
    GemmPackedA,
    GemmPackedB,
    ConvColumns,
    ConvGradOutputTile,
    ConvPartialFilter,
    ConvPackedWeight,
    /// <summary>Winograd: the 16 transformed filters [16][K][C] (or their gradient), before packing.</summary>
    WinogradFilter,
    /// <summary>Winograd: a block's transformed input tiles V [16][C][tiles].</summary>
    WinogradInput,
    /// <summary>Winograd: a block's products M [16][K][tiles] (or transformed output gradients).</summary>
    WinogradProduct,
    /// <summary>Winograd: image rows split into even and odd columns.</summary>
    WinogradRows,
    Count,
}

/// <summary>
/// Aligned native scratch memory owned by one thread (the caller and each persistent worker of
/// <see cref="CpuParallel"/>), grown when a larger request comes and otherwise reused, so kernels take
/// nothing from the GC heap per call. Contents are not preserved across a grow. The memory lives as long
/// as its thread (the pool's workers and the main thread live as long as the process).
/// </summary>
internal static unsafe class ThreadScratch
{
    /// <summary>Cache-line alignment; also the alignment of a Vector512, so any vector load is aligned.</summary>
    private const int Alignment = 64;

    [ThreadStatic] private static Slots t_slots;

    private static long s_growths;

    /// <summary>How many times any thread's slot has grown (taken a new buffer from the system) since the process
    /// started: a steady training step should add none.</summary>
    public static long Growths => Interlocked.Read(ref s_growths);

    private struct Slots
    {
        public SlotArray Pointers;
        public LengthArray Bytes;
    }

    [System.Runtime.CompilerServices.InlineArray((int)ScratchSlot.Count)]
    private struct SlotArray { private nint _element; }

    [System.Runtime.CompilerServices.InlineArray((int)ScratchSlot.Count)]
    private struct LengthArray { private long _element; }

    /// <summary>A buffer of at least <paramref name="count"/> elements in this thread's slot.</summary>
    public static T* Get<T>(ScratchSlot slot, long count) where T : unmanaged
    {
        long bytes = Math.Max(1, count) * sizeof(T);
        ref var slots = ref t_slots;
        int i = (int)slot;
        if (slots.Bytes[i] < bytes)
        {
            Interlocked.Increment(ref s_growths);
            if (slots.Pointers[i] != 0) NativeMemory.AlignedFree((void*)slots.Pointers[i]);
            slots.Pointers[i] = 0;
            slots.Bytes[i] = 0;
            // Grow by a quarter more than asked, so a slowly rising size does not reallocate every call.
            long grown = bytes + bytes / 4;
            grown = (grown + Alignment - 1) / Alignment * Alignment;
            void* p = NativeMemory.AlignedAlloc((nuint)grown, Alignment);
            if (p == null) throw new OutOfMemoryException($"scratch allocation of {grown} bytes failed");
            slots.Pointers[i] = (nint)p;
            slots.Bytes[i] = grown;
        }
        return (T*)slots.Pointers[i];
    }
}
