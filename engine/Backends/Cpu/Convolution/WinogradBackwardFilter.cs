using System.Numerics;
using System.Runtime.Intrinsics;
using Vicreg.Engine.Backends.Cpu.Gemm;

namespace Vicreg.Engine.Backends.Cpu.Convolution;

/// <summary>
/// The weight gradient of a 3x3 stride-1 convolution through Winograd F(2x2, 3x3). An output tile is
/// y = A^T (Σ_c U[c] ⊙ V[c]) A, linear in U, so dU[e] = Σ over tiles of (A dy A^T)[e] ⊙ V[e]: per block of
/// tiles, 16 GEMMs D[e] [K x tiles] · V[e]^T accumulated into dU[e] [K x C]; at the end dW = G^T dU G.
/// Where <see cref="WinogradPolicy.UseF4Gradient{T}"/> says so, through F(4x4, 3x3) instead
/// (<see cref="WinogradF4BackwardFilter"/>).
/// <para>Determinism as <see cref="ConvolutionBackwardFilter"/>: one contiguous chunk of images per thread (or a
/// single chunk when each would be thin, <see cref="FilterPartials.Chunks"/>), each chunk's dW in its own buffer
/// (chunk 0 in dW itself), added in chunk order, so the result depends only on the batch and the thread count.</para>
/// </summary>
internal static unsafe class WinogradBackwardFilter
{
    public static void Run<T>(in Conv2dGeometry g, T* x, T* dy, T* dweight) where T : unmanaged, INumberBase<T>
    {
        if (WinogradPolicy.UseF4Gradient<T>(g))
        {
            WinogradF4BackwardFilter.Run(g, (float*)x, (float*)dy, (float*)dweight);
            return;
        }
        long filterSize = (long)g.OutChannels * g.InChannels * 9;
        var tiling = new WinogradTiling(g, Vector256<T>.Count);
        int chunks = FilterPartials.Chunks(g.Batch, (long)tiling.TilesHigh * tiling.TilesWide);
        T* partials = FilterPartials.Scratch<T>(chunks, filterSize);
        var body = new ChunkBody<T> { Tiling = tiling, X = x, Dy = dy, Dweight = dweight, Partials = partials, Chunks = chunks };
        ConvolutionThreads.Run(chunks, chunks > 1, ref body);
        if (chunks > 1) FilterPartials.AddInOrder(dweight, partials, chunks - 1, filterSize);
    }

    private struct ChunkBody<T> : IConvolutionBody where T : unmanaged, INumberBase<T>
    {
        public WinogradTiling Tiling;
        public T* X, Dy, Dweight, Partials;
        public int Chunks;
        public bool ParallelGemm { get; set; }

        public readonly void Run(int start, int end)
        {
            for (int t = start; t < end; t++) RunChunk(t);
        }

        private readonly void RunChunk(int chunk)
        {
            ref readonly var g = ref Tiling.Geometry;
            int k = g.OutChannels, c = g.InChannels;
            int n0 = CpuParallel.ChunkStart(chunk, g.Batch, Chunks), n1 = CpuParallel.ChunkEnd(chunk, g.Batch, Chunks);
            int start = n0 * Tiling.TilesHigh, end = n1 * Tiling.TilesHigh;
            int unitsPerBlock = Math.Min(Tiling.UnitsPerBlock(WinogradForward.TargetColumns), end - start);
            int ld = WinogradTiling.Stride<T>(unitsPerBlock * Tiling.TilesWide);
            // Small images transform their input and output gradient a vector of channels at a time, into
            // V^T [tiles x C] and D^T [tiles x K].
            bool byChannel = WinogradSmallImages.Applies<T>(Tiling);
            int ldV = byChannel ? WinogradSmallImages.Stride(c) : ld, ldD = byChannel ? WinogradSmallImages.Stride(k) : ld;
            nint vMatrix = WinogradTiling.MatrixStride<T>(byChannel ? (nint)unitsPerBlock * Tiling.TilesWide * ldV : (nint)c * ld);
            nint dMatrix = WinogradTiling.MatrixStride<T>(byChannel ? (nint)unitsPerBlock * Tiling.TilesWide * ldD : (nint)k * ld);
            long rowScratch = Tiling.RowScratch(unitsPerBlock);
            if (byChannel) rowScratch = Math.Max(rowScratch, WinogradSmallImages.Scratch(g));
            T* rows = ThreadScratch.Get<T>(ScratchSlot.WinogradRows, rowScratch);
            T* v = ThreadScratch.Get<T>(ScratchSlot.WinogradInput, WinogradTransforms.Elements * vMatrix);
            T* d = ThreadScratch.Get<T>(ScratchSlot.WinogradProduct, WinogradTransforms.Elements * dMatrix);
            // dU, with a vector of slack: the final transform reads whole vectors of input channels.
            nint matrix = (nint)k * c;
            T* du = ThreadScratch.Get<T>(ScratchSlot.WinogradFilter, WinogradTransforms.Elements * matrix + Vector256<T>.Count);
            bool first = true;
            for (int u0 = start; u0 < end; u0 += unitsPerBlock)
            {
                int u1 = Math.Min(end, u0 + unitsPerBlock), columns = (u1 - u0) * Tiling.TilesWide;
                if (byChannel) WinogradSmallImages.Input(Tiling, (float*)X, u0, u1, (float*)rows, (float*)v, ldV, vMatrix);
                else Tiling.Input(X, u0, u1, rows, v, ld, vMatrix);
                if (byChannel) WinogradSmallImages.OutputGradient(Tiling, (float*)Dy, u0, u1, (float*)rows, (float*)d, ldD, dMatrix);
                else Tiling.OutputGradient(Dy, u0, u1, rows, d, ld, dMatrix);
                T beta = first ? T.Zero : T.One;
                for (int e = 0; e < WinogradTransforms.Elements; e++)
                {
                    // dU[e] = D[e] V[e]^T: D^T[e] [tiles x K] enters transposed, V[e] [C x tiles] too; V^T[e] is
                    // already the right operand.
                    T* a = d + e * dMatrix, b = v + e * vMatrix;
                    if (ParallelGemm) GemmKernel.Run(byChannel, !byChannel, k, c, columns, T.One, a, ldD, b, ldV, beta, du + e * matrix, c);
                    else GemmKernel.RunSerial(byChannel, !byChannel, k, c, columns, T.One, a, ldD, b, ldV, beta, du + e * matrix, c);
                }
                first = false;
            }
            T* target = chunk == 0 ? Dweight : Partials + (chunk - 1) * (nint)k * c * 9;
            WinogradFilters.Gradient(du, k, c, target);
        }
    }
}
