using System.Numerics;
using Vicreg.Engine.Backends.Cpu.Gemm;

namespace Vicreg.Engine.Backends.Cpu.Convolution;

/// <summary>
/// y_n = W · col(x_n) for each image: the weights [K x CRS] are packed once per call (they are the A of
/// every image's GEMM), each image is lowered into its thread's scratch (never the whole batch), and the
/// product lands straight in y_n [K x HW]. A 1x1 stride-1 unpadded convolution skips the lowering: the
/// image [C x HW] already is the column matrix.
/// </summary>
internal static unsafe class ConvolutionForward
{
    /// <summary>Images with fewer output pixels than this are grouped into tiles (see <see cref="ImageTile"/>).</summary>
    internal const int TargetColumns = 128;

    public static void Run<T>(in Conv2dGeometry g, T* x, T* weight, T* y) where T : unmanaged, INumberBase<T>
    {
        int k = g.OutChannels, crs = g.InChannels * g.KernelHeight * g.KernelWidth, hw = g.OutHeight * g.OutWidth;
        if (g.Batch == 0 || k == 0 || hw == 0) return;
        if (SingleChannelConvolution.Use<T>(g))
        {
            SingleChannelConvolution.Forward(g, (float*)x, (float*)weight, (float*)y);
            return;
        }
        if (WinogradPolicy.Use<T>(g))
        {
            WinogradForward.Forward(g, x, weight, y);
            return;
        }
        T* packed = ThreadScratch.Get<T>(ScratchSlot.ConvPackedWeight, GemmKernel.PackedASize<T>(k, crs));
        GemmKernel.PackWholeA(false, k, crs, GemmKernel.One<T>(), weight, crs, packed);

        var body = new ImageBody<T> { Geometry = g, X = x, Y = y, PackedWeight = packed };
        ConvolutionThreads.Run(g.Batch, ref body);
    }

    private struct ImageBody<T> : IConvolutionBody where T : unmanaged, INumberBase<T>
    {
        public Conv2dGeometry Geometry;
        public T* X, Y, PackedWeight;
        public bool ParallelGemm { get; set; }

        public void Run(int start, int end)
        {
            ref readonly var g = ref Geometry;
            int k = g.OutChannels, crs = g.InChannels * g.KernelHeight * g.KernelWidth, hw = g.OutHeight * g.OutWidth;
            nint imageIn = (nint)g.InChannels * g.InHeight * g.InWidth, imageOut = (nint)k * hw;
            int tile = ImageTile.ImagesPerTile(hw, TargetColumns, end - start);
            var plan = Im2Col.Plan(g, tile);
            var bands = plan.Bands;
            T* col = plan.ColumnElements > 0 ? ThreadScratch.Get<T>(ScratchSlot.ConvColumns, plan.ColumnElements) : null;
            T* output = tile > 1 ? ThreadScratch.Get<T>(ScratchSlot.ConvGradOutputTile, (long)k * hw * tile) : null;
            for (int n = start; n < end; n += tile)
            {
                int images = Math.Min(tile, end - n);
                int width = images * hw;
                T* xn = X + n * imageIn;
                if (plan.Banded)
                {
                    // A large image a band of output rows at a time: y_n[:, band] = W · col(band).
                    for (int band = 0; band < bands.Count; band++)
                    {
                        int oh0 = bands.Start(band), oh1 = bands.Start(band + 1), pixels = (oh1 - oh0) * g.OutWidth;
                        Im2Col.Lower(g, xn, oh0, oh1, col, pixels);
                        GemmKernel.RunPackedA(k, pixels, crs, PackedWeight, false, col, pixels, default,
                            Y + n * imageOut + (nint)oh0 * g.OutWidth, hw, ParallelGemm);
                    }
                    continue;
                }
                T* b = col;
                if (g.IsPointwise && images == 1) b = xn; // the image already is its column matrix
                else if (g.IsPointwise) ImageTile.Gather(xn, imageIn, images, crs, hw, col);
                else
                    for (int i = 0; i < images; i++) Im2Col.Lower(g, xn + i * imageIn, col + (nint)i * hw, width);
                if (images == 1)
                {
                    GemmKernel.RunPackedA(k, hw, crs, PackedWeight, false, b, hw, default, Y + n * imageOut, hw, ParallelGemm);
                }
                else
                {
                    GemmKernel.RunPackedA(k, width, crs, PackedWeight, false, b, width, default, output, width, ParallelGemm);
                    ImageTile.Scatter(output, images, k, hw, Y + n * imageOut, imageOut);
                }
            }
        }
    }
}
