using System.Runtime.Intrinsics;
using Vicreg.Engine.Backends.Cpu.Gemm;

namespace Vicreg.Engine.Backends.Cpu.Convolution;

/// <summary>
/// The weight gradient of a float 3x3 stride-1 convolution through Winograd F(4x4, 3x3), as
/// <see cref="WinogradBackwardFilter"/> does through F(2x2, 3x3): y = A^T (Σ_c U[c] ⊙ V[c]) A per 4x4 output
/// tile is linear in U, so dU[e] = Σ over tiles of (A dy A^T)[e] ⊙ V[e] (A^T is 4x6, so A dy A^T is 6x6): per
/// block of tiles, V^T[e] [tiles x C] and D^T[e] [tiles x K] (<see cref="WinogradF4Tiling"/>), then 36 GEMMs
/// dU[e] [K x C] += D^T[e]^T · V^T[e]; at the end dW = G^T dU G. Against F(2x2) the GEMMs do 36 products for
/// 16 outputs instead of 16 for 4 (9/16 of the work) over fewer, larger transforms; the price is coarser
/// rounding (the bound in the tests).
/// <para>Determinism as <see cref="WinogradBackwardFilter"/>: one contiguous chunk of images per thread (or a single
/// chunk, <see cref="FilterPartials.Chunks"/>), each chunk's dW in its own buffer (chunk 0 in dW itself), added in
/// chunk order, so the result depends only on the batch and the thread count.</para>
/// </summary>
internal static unsafe class WinogradF4BackwardFilter
{
    public static void Run(in Conv2dGeometry g, float* x, float* dy, float* dweight)
    {
        long filterSize = (long)g.OutChannels * g.InChannels * 9;
        var tiling = new WinogradF4Tiling(g);
        int chunks = FilterPartials.Chunks(g.Batch, (long)tiling.TilesHigh * tiling.TilesWide);
        float* partials = FilterPartials.Scratch<float>(chunks, filterSize);
        var body = new ChunkBody { Tiling = tiling, X = x, Dy = dy, Dweight = dweight, Partials = partials, Chunks = chunks };
        ConvolutionThreads.Run(chunks, chunks > 1, ref body);
        if (chunks > 1) FilterPartials.AddInOrder(dweight, partials, chunks - 1, filterSize);
    }

    private struct ChunkBody : IConvolutionBody
    {
        public WinogradF4Tiling Tiling;
        public float* X, Dy, Dweight, Partials;
        public int Chunks;
        public bool ParallelGemm { get; set; }

        public readonly void Run(int start, int end)
        {
            for (int t = start; t < end; t++) RunChunk(t);
        }

        private readonly void RunChunk(int chunk)
        {
            ref readonly var g = ref Tiling.Geometry;
            int k = g.OutChannels, c = g.InChannels, tw = Tiling.TilesWide;
            const int elements = WinogradF4Transforms.Elements;
            int n0 = CpuParallel.ChunkStart(chunk, g.Batch, Chunks), n1 = CpuParallel.ChunkEnd(chunk, g.Batch, Chunks);
            int start = n0 * Tiling.TilesHigh, end = n1 * Tiling.TilesHigh;
            int unitsPerBlock = Math.Min(Math.Max(1, WinogradForward.TargetColumns / tw), end - start);
            int maxColumns = unitsPerBlock * tw;
            int ldV = WinogradSmallImages.Stride(c), ldD = WinogradSmallImages.Stride(k);
            nint vMatrix = WinogradTiling.MatrixStride<float>((nint)maxColumns * ldV);
            nint dMatrix = WinogradTiling.MatrixStride<float>((nint)maxColumns * ldD);
            float* pixels = ThreadScratch.Get<float>(ScratchSlot.WinogradRows, Tiling.PixelsSize(unitsPerBlock));
            float* v = ThreadScratch.Get<float>(ScratchSlot.WinogradInput, elements * vMatrix);
            float* d = ThreadScratch.Get<float>(ScratchSlot.WinogradProduct, elements * dMatrix);
            // dU, with a vector of slack: the final transform reads whole vectors of input channels.
            nint matrix = (nint)k * c;
            float* du = ThreadScratch.Get<float>(ScratchSlot.WinogradFilter, elements * matrix + Vector256<float>.Count);
            float* tmp = stackalloc float[WinogradF4Transforms.Scratch];
            float beta = 0;
            for (int u0 = start; u0 < end; u0 += unitsPerBlock)
            {
                int u1 = Math.Min(end, u0 + unitsPerBlock), columns = (u1 - u0) * tw;
                Tiling.Input(X, u0, u1, pixels, v, ldV, vMatrix, tmp);
                Tiling.OutputGradient(Dy, u0, u1, pixels, d, ldD, dMatrix, tmp);
                // dU[e] (+)= D[e] V[e]^T: D^T[e] [tiles x K] enters transposed, V^T[e] [tiles x C] as it is.
                for (int e = 0; e < elements; e++)
                {
                    float* a = d + e * dMatrix, b = v + e * vMatrix;
                    if (ParallelGemm) GemmKernel.Run(true, false, k, c, columns, 1f, a, ldD, b, ldV, beta, du + e * matrix, c);
                    else GemmKernel.RunSerial(true, false, k, c, columns, 1f, a, ldD, b, ldV, beta, du + e * matrix, c);
                }
                beta = 1;
            }
            float* target = chunk == 0 ? Dweight : Partials + (chunk - 1) * (nint)k * c * 9;
            WinogradFilters.Gradient(du, k, c, target, new WinogradFilters.F4x4());
        }
    }
}
