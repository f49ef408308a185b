using System.Numerics;
using Vicreg.Engine.Backends.Cpu.Gemm;

namespace Vicreg.Engine.Backends.Cpu.Convolution;

/// <summary>The last step of a weight gradient computed a chunk of images per thread: the chunks' partial
/// gradients added to the first in chunk order, so the sum is the same for a given thread count.</summary>
internal static unsafe class FilterPartials
{
    /// <summary>The fewest GEMM columns (tiles) a chunk of a Winograd weight gradient may hold before the gradient
    /// runs as one chunk instead (<see cref="Chunks"/>).</summary>
    internal const int MinChunkColumns = 64;

    /// <summary>How many chunks of images a Winograd weight gradient splits <paramref name="batch"/> into: one per
    /// thread, unless a chunk would hold fewer than <see cref="MinChunkColumns"/> tiles (at <paramref name="tilesPerImage"/>
    /// an image); then a single chunk whose GEMMs all threads share. A thin chunk's products are bound by writing
    /// their filter-sized output (36 x K x C for F(4x4, 3x3)), and every extra chunk adds such an output and a
    /// partial to sum. ResNet-18's 512-channel 4x4 layers at batch 64 and 2 threads (32 tiles a chunk): the F(4x4)
    /// weight gradient went from 27.0 to 18.7 ms (`bench conv`). As a single chunk, the result no longer depends on
    /// the thread count.</summary>
    public static int Chunks(int batch, long tilesPerImage)
    {
        int chunks = Math.Min(CpuParallel.ThreadCount, batch);
        return chunks > 1 && batch / chunks * tilesPerImage < MinChunkColumns ? 1 : chunks;
    }

    /// <summary>This thread's buffer for the partial gradients of chunks 1 to <paramref name="chunks"/> - 1 (chunk 0
    /// writes dW itself), each <paramref name="filterSize"/> elements; null for a single chunk.</summary>
    public static T* Scratch<T>(int chunks, long filterSize) where T : unmanaged
        => chunks > 1 ? ThreadScratch.Get<T>(ScratchSlot.ConvPartialFilter, (chunks - 1) * filterSize) : null;

    /// <summary>dW += partial_1 + partial_2 + ... (<paramref name="parts"/> buffers of <paramref name="length"/>
    /// elements, one after another) in that order, over blocks of elements on all threads.</summary>
    public static void AddInOrder<T>(T* dweight, T* partials, int parts, long length) where T : unmanaged, INumberBase<T>
    {
        int blocks = (int)Math.Min(CpuParallel.ThreadCount * 8L, (length + 4095) / 4096);
        var sum = new SumBody<T> { Dweight = dweight, Partials = partials, Parts = parts, Length = length, Blocks = blocks };
        CpuParallel.For(blocks, ref sum);
    }

    private struct SumBody<T> : IRangeBody where T : unmanaged, INumberBase<T>
    {
        public T* Dweight, Partials;
        public int Parts, Blocks;
        public long Length;

        public readonly void Run(int start, int end)
        {
            long from = Length * start / Blocks, to = Length * end / Blocks;
            for (int p = 0; p < Parts; p++)
            {
                T* partial = Partials + p * Length;
                for (long i = from; i < to; i++) Dweight[i] += partial[i];
            }
        }
    }
}
