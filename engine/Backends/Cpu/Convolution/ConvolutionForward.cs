using System.Numerics;

namespace Vicreg.Engine.Backends.Cpu;

/// <summary>
/// y_n = W · col(x_n) for each image: the weights [K x CRS] are packed once per call (they are the A of
/// every image's GEMM), each image is lowered into its thread's scratch (never the whole batch), and the
/// product lands straight in y_n [K x HW]. A 1x1 stride-1 unpadded convolution skips the lowering: the
/// image [C x HW] already is the column matrix.
/// </summary>
internal static unsafe class ConvolutionForward
{
    public static void Run<T>(in Conv2dGeometry g, T* x, T* weight, T* y) where T : unmanaged, INumberBase<T>
    {
        int k = g.OutChannels, crs = g.InChannels * g.KernelHeight * g.KernelWidth, hw = g.OutHeight * g.OutWidth;
        if (g.Batch == 0 || k == 0 || hw == 0) return;
        T* packed = ThreadScratch.Get<T>(ScratchSlot.ConvPackedWeight, GemmKernel.PackedASize<T>(k, crs));
        GemmKernel.PackWholeA(false, k, crs, GemmKernel.One<T>(), weight, crs, packed);

        var body = new ImageBody<T> { Geometry = g, X = x, Y = y, PackedWeight = packed };
        if (g.Batch >= CpuParallel.ThreadCount)
        {
            CpuParallel.For(g.Batch, ref body);
        }
        else
        {
            // Fewer images than threads: one image at a time, the threads sharing each image's GEMM.
            body.ParallelGemm = true;
            body.Run(0, g.Batch);
        }
    }

    private struct ImageBody<T> : IRangeBody where T : unmanaged, INumberBase<T>
    {
        public Conv2dGeometry Geometry;
        public T* X, Y, PackedWeight;
        public bool ParallelGemm;

        public void Run(int start, int end)
        {
            ref readonly var g = ref Geometry;
            int k = g.OutChannels, crs = g.InChannels * g.KernelHeight * g.KernelWidth, hw = g.OutHeight * g.OutWidth;
            nint imageIn = (nint)g.InChannels * g.InHeight * g.InWidth, imageOut = (nint)k * hw;
            T* col = g.IsPointwise ? null : ThreadScratch.Get<T>(ScratchSlot.ConvColumns, (long)crs * hw);
            for (int n = start; n < end; n++)
            {
                T* xn = X + n * imageIn;
                T* b = xn;
                if (!g.IsPointwise)
                {
                    Im2Col.Lower(g, xn, col, hw);
                    b = col;
                }
                GemmKernel.RunPackedA(k, hw, crs, PackedWeight, false, b, hw, default, Y + n * imageOut, hw, ParallelGemm);
            }
        }
    }
}
