using System.Numerics;
using Vicreg.Engine.Backends.Cpu.Gemm;

namespace Vicreg.Engine.Backends.Cpu.Convolution;

/// <summary>
/// dx_n = col2im(W^T · dy_n) for each image: W^T [CRS x K] is packed once per call, each image's column
/// gradient goes to its thread's scratch and is scattered (accumulating overlapping taps) into dx_n.
/// A 1x1 stride-1 unpadded convolution writes W^T · dy_n straight into dx_n. Images with few output
/// pixels go through the GEMM a tile at a time, as in the forward pass.
/// </summary>
internal static unsafe class ConvolutionBackwardData
{
    public static void Run<T>(in Conv2dGeometry g, T* dy, T* weight, T* dx) where T : unmanaged, INumberBase<T>
    {
        int k = g.OutChannels, crs = g.InChannels * g.KernelHeight * g.KernelWidth, hw = g.OutHeight * g.OutWidth;
        if (g.Batch == 0) return;
        if (k == 0 || hw == 0)
        {
            new Span<T>(dx, checked(g.Batch * g.InChannels * g.InHeight * g.InWidth)).Clear();
            return;
        }
        if (WinogradPolicy.Use<T>(g))
        {
            WinogradForward.BackwardData(g, dy, weight, dx);
            return;
        }
        T* packed = ThreadScratch.Get<T>(ScratchSlot.ConvPackedWeight, GemmKernel.PackedASize<T>(crs, k));
        GemmKernel.PackWholeA(true, crs, k, GemmKernel.One<T>(), weight, crs, packed);

        var body = new ImageBody<T> { Geometry = g, Dy = dy, Dx = dx, PackedWeightT = packed };
        ConvolutionThreads.Run(g.Batch, ref body);
    }

    private struct ImageBody<T> : IConvolutionBody where T : unmanaged, INumberBase<T>
    {
        public Conv2dGeometry Geometry;
        public T* Dy, Dx, PackedWeightT;
        public bool ParallelGemm { get; set; }

        public void Run(int start, int end)
        {
            ref readonly var g = ref Geometry;
            int k = g.OutChannels, crs = g.InChannels * g.KernelHeight * g.KernelWidth, hw = g.OutHeight * g.OutWidth;
            nint imageIn = (nint)g.InChannels * g.InHeight * g.InWidth, imageOut = (nint)k * hw;
            int tile = ImageTile.ImagesPerTile(hw, ConvolutionForward.TargetColumns, end - start);
            var plan = Im2Col.Plan(g, tile);
            var bands = plan.Bands;
            T* col = plan.ColumnElements > 0 ? ThreadScratch.Get<T>(ScratchSlot.ConvColumns, plan.ColumnElements) : null;
            T* dyTile = tile > 1 ? ThreadScratch.Get<T>(ScratchSlot.ConvGradOutputTile, (long)k * hw * tile) : null;
            for (int n = start; n < end; n += tile)
            {
                int images = Math.Min(tile, end - n);
                int width = images * hw;
                T* dxn = Dx + n * imageIn;
                T* dyn = Dy + n * imageOut;
                if (plan.Banded)
                {
                    // A large image a band of output rows at a time: col(band) = W^T dy_n[:, band], scattered at once.
                    new Span<T>(dxn, checked((int)imageIn)).Clear();
                    for (int band = 0; band < bands.Count; band++)
                    {
                        int oh0 = bands.Start(band), oh1 = bands.Start(band + 1), pixels = (oh1 - oh0) * g.OutWidth;
                        GemmKernel.RunPackedA(crs, pixels, k, PackedWeightT, false, dyn + (nint)oh0 * g.OutWidth, hw, default, col, pixels, ParallelGemm);
                        Im2Col.Raise(g, oh0, oh1, col, pixels, dxn);
                    }
                    continue;
                }
                T* b = dyn;
                if (images > 1)
                {
                    ImageTile.Gather(dyn, imageOut, images, k, hw, dyTile);
                    b = dyTile;
                }
                if (g.IsPointwise && images == 1)
                {
                    GemmKernel.RunPackedA(crs, hw, k, PackedWeightT, false, b, hw, default, dxn, hw, ParallelGemm);
                    continue;
                }
                GemmKernel.RunPackedA(crs, width, k, PackedWeightT, false, b, width, default, col, width, ParallelGemm);
                if (g.IsPointwise)
                {
                    ImageTile.Scatter(col, images, crs, hw, dxn, imageIn);
                    continue;
                }
                new Span<T>(dxn, checked((int)(imageIn * images))).Clear();
                for (int i = 0; i < images; i++) Im2Col.Raise(g, col + (nint)i * hw, width, dxn + i * imageIn);
            }
        }
    }
}
