using System.Numerics;

namespace Vicreg.Engine.Backends.Cpu.Convolution;

/// <summary>The last step of a weight gradient computed a chunk of images per thread: the chunks' partial
/// gradients added to the first in chunk order, so the sum is the same for a given thread count.</summary>
internal static unsafe class FilterPartials
{
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
