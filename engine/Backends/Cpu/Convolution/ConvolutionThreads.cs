namespace Vicreg.Engine.Backends.Cpu.Convolution;

/// <summary>A convolution's unit of work (an image, a row of tiles, a chunk of images) whose GEMMs run
/// either on the calling thread alone or, when told, shared by all threads.</summary>
internal interface IConvolutionBody : IRangeBody
{
    /// <summary>Whether each GEMM is spread over the threads (set when the units themselves are not).</summary>
    bool ParallelGemm { set; }
}

/// <summary>How every convolution kernel spends its threads: units split over the threads when
/// <c>split</c> says there are enough to keep them all busy, otherwise run one after another
/// with the threads sharing each GEMM (a batch of one image still uses every core).</summary>
internal static class ConvolutionThreads
{
    public static void Run<TBody>(int units, bool split, ref TBody body) where TBody : struct, IConvolutionBody
    {
        if (split)
        {
            CpuParallel.For(units, ref body);
        }
        else
        {
            body.ParallelGemm = true;
            body.Run(0, units);
        }
    }

    /// <summary><see cref="Run{TBody}(int, bool, ref TBody)"/> split whenever there is a unit per thread.</summary>
    public static void Run<TBody>(int units, ref TBody body) where TBody : struct, IConvolutionBody
        => Run(units, units >= CpuParallel.ThreadCount, ref body);
}
