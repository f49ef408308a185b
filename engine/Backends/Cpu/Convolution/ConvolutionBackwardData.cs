using System.Numerics;

namespace Vicreg.Engine.Backends.Cpu;

/// <summary>
/// dx_n = col2im(W^T · dy_n) for each image: W^T [CRS x K] is packed once per call, each image's column
/// gradient goes to its thread's scratch and is scattered (accumulating overlapping taps) into dx_n.
/// A 1x1 stride-1 unpadded convolution writes W^T · dy_n straight into dx_n.
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
        T* packed = ThreadScratch.Get<T>(ScratchSlot.ConvPackedWeight, GemmKernel.PackedASize<T>(crs, k));
        GemmKernel.PackWholeA(true, crs, k, GemmKernel.One<T>(), weight, crs, packed);

        var body = new ImageBody<T> { Geometry = g, Dy = dy, Dx = dx, PackedWeightT = packed };
        if (g.Batch >= CpuParallel.ThreadCount)
        {
            CpuParallel.For(g.Batch, ref body);
        }
        else
        {
            body.ParallelGemm = true;
            body.Run(0, g.Batch);
        }
    }

    private struct ImageBody<T> : IRangeBody where T : unmanaged, INumberBase<T>
    {
        public Conv2dGeometry Geometry;
        public T* Dy, Dx, PackedWeightT;
        public bool ParallelGemm;

        public void Run(int start, int end)
        {
            ref readonly var g = ref Geometry;
            int k = g.OutChannels, crs = g.InChannels * g.KernelHeight * g.KernelWidth, hw = g.OutHeight * g.OutWidth;
            nint imageIn = (nint)g.InChannels * g.InHeight * g.InWidth, imageOut = (nint)k * hw;
            T* col = g.IsPointwise ? null : ThreadScratch.Get<T>(ScratchSlot.ConvColumns, (long)crs * hw);
            for (int n = start; n < end; n++)
            {
                T* dxn = Dx + n * imageIn;
                T* dyn = Dy + n * imageOut;
                if (g.IsPointwise)
                {
                    GemmKernel.RunPackedA(crs, hw, k, PackedWeightT, false, dyn, hw, default, dxn, hw, ParallelGemm);
                    continue;
                }
                GemmKernel.RunPackedA(crs, hw, k, PackedWeightT, false, dyn, hw, default, col, hw, ParallelGemm);
                new Span<T>(dxn, checked((int)imageIn)).Clear();
                Im2Col.Raise(g, col, hw, dxn);
            }
        }
    }
}
