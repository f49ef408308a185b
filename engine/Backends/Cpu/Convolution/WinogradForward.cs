using System.Numerics;
using System.Runtime.Intrinsics;
using Vicreg.Engine.Backends.Cpu.Gemm;

namespace Vicreg.Engine.Backends.Cpu.Convolution;

/// <summary>
/// A 3x3 stride-1 convolution as Winograd F(2x2, 3x3): the 16 transformed filters U[e] [K x C] are
/// computed and packed once per call (the weights change every step); then, block by block of output
/// tiles, V[e] = input transform [C x tiles], M[e] = U[e] · V[e] (16 GEMMs of the packed U), and the
/// output transform into y. Backward-data is the same computation: for stride 1 and a 3x3 kernel, dx is
/// the convolution of dy with the weights rotated by 180 degrees and K and C swapped, at padding 2 - pad.
/// Images of up to 16x16 outputs transform their input a vector of channels at a time into V^T
/// (<see cref="WinogradSmallImages"/>), larger ones along tile rows (<see cref="WinogradTiling"/>). Where
/// <see cref="WinogradPolicy.UseF4{T}"/> says so, both directions go through F(4x4, 3x3) instead (<see cref="WinogradF4"/>).
/// <para>Units (tile rows) are split over threads, each thread running its blocks' GEMMs alone; every
/// output comes from the same operations whatever the split, so results are bit-identical for any thread
/// count. With fewer units than threads the threads share each GEMM instead.</para>
/// </summary>
internal static unsafe class WinogradForward
{
    /// <summary>Tiles per block: wide enough that the GEMMs run at their full rate (N of a few 32-column tiles),
    /// small enough that a block's V and M stay near the cache (64 channels x 256 tiles x 16 is 1 MiB of
    /// floats). Measured on the ResNet-18 layers, 64 to 512 were within the noise of each other.</summary>
    internal const int TargetColumns = 256;

    public static void Forward<T>(in Conv2dGeometry g, T* x, T* weight, T* y) where T : unmanaged, INumberBase<T>
    {
        if (WinogradPolicy.UseF4<T>(g)) WinogradF4.Forward(g, (float*)x, (float*)weight, (float*)y);
        else Run(g, x, weight, flipped: false, y);
    }

    /// <summary>dx from dy for the forward convolution <paramref name="g"/>.</summary>
    public static void BackwardData<T>(in Conv2dGeometry g, T* dy, T* weight, T* dx) where T : unmanaged, INumberBase<T>
    {
        if (WinogradPolicy.UseF4<T>(g))
        {
            WinogradF4.BackwardData(g, (float*)dy, (float*)weight, (float*)dx);
            return;
        }
        var transposed = new Conv2dGeometry(g.Batch, g.OutChannels, g.OutHeight, g.OutWidth, g.InChannels, 3, 3, 1, 1,
            2 - g.PadHeight, 2 - g.PadWidth);
        Run(transposed, dy, weight, flipped: true, dx);
    }

    private static void Run<T>(in Conv2dGeometry g, T* x, T* weight, bool flipped, T* y) where T : unmanaged, INumberBase<T>
    {
        int k = g.OutChannels, c = g.InChannels;
        long filters = (long)WinogradTransforms.Elements * k * c;
        T* u = ThreadScratch.Get<T>(ScratchSlot.WinogradFilter, filters);
        WinogradFilters.Transform(weight, k, c, flipped, u);
        T* packed = ThreadScratch.Get<T>(ScratchSlot.ConvPackedWeight, WinogradTransforms.Elements * WinogradFilters.PackedSize<T>(k, c));
        WinogradFilters.Pack(u, k, c, packed);

        var tiling = new WinogradTiling(g, Vector256<T>.Count);
        var body = new BlockBody<T> { Tiling = tiling, X = x, Y = y, Packed = packed };
        ConvolutionThreads.Run(tiling.Units, ref body);
    }

    private struct BlockBody<T> : IConvolutionBody where T : unmanaged, INumberBase<T>
    {
        public WinogradTiling Tiling;
        public T* X, Y, Packed;
        public bool ParallelGemm { get; set; }

        public readonly void Run(int start, int end)
        {
            ref readonly var g = ref Tiling.Geometry;
            int k = g.OutChannels, c = g.InChannels;
            int unitsPerBlock = Math.Min(Tiling.UnitsPerBlock(TargetColumns), end - start);
            int ld = WinogradTiling.Stride<T>(unitsPerBlock * Tiling.TilesWide);
            // Small images transform their input a vector of channels at a time, into V^T [tiles x C].
            bool byChannel = WinogradSmallImages.Applies<T>(Tiling);
            int ldV = byChannel ? WinogradSmallImages.Stride(c) : ld;
            nint vMatrix = WinogradTiling.MatrixStride<T>(byChannel ? (nint)unitsPerBlock * Tiling.TilesWide * ldV : (nint)c * ld);
            nint mMatrix = WinogradTiling.MatrixStride<T>((nint)k * ld);
            T* rows = ThreadScratch.Get<T>(ScratchSlot.WinogradRows, byChannel ? WinogradSmallImages.Scratch(g) : Tiling.RowScratch(unitsPerBlock));
            T* v = ThreadScratch.Get<T>(ScratchSlot.WinogradInput, WinogradTransforms.Elements * vMatrix);
            T* m = ThreadScratch.Get<T>(ScratchSlot.WinogradProduct, WinogradTransforms.Elements * mMatrix);
            long packedSize = WinogradFilters.PackedSize<T>(k, c);
            for (int u0 = start; u0 < end; u0 += unitsPerBlock)
            {
                int u1 = Math.Min(end, u0 + unitsPerBlock), columns = (u1 - u0) * Tiling.TilesWide;
                if (byChannel) WinogradSmallImages.Input(Tiling, (float*)X, u0, u1, (float*)rows, (float*)v, ldV, vMatrix);
                else Tiling.Input(X, u0, u1, rows, v, ld, vMatrix);
                for (int e = 0; e < WinogradTransforms.Elements; e++)
                    GemmKernel.RunPackedA(k, columns, c, Packed + e * packedSize, byChannel, v + e * vMatrix, ldV, default,
                        m + e * mMatrix, ld, ParallelGemm);
                Tiling.Output(m, ld, mMatrix, u0, u1, Y);
            }
        }
    }
}
