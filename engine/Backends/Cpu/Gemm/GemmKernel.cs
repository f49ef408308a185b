using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace Vicreg.Engine.Backends.Cpu.Gemm;

/// <summary>
/// Row-major GEMM, C = alpha op(A) op(B) + beta C, packed BLIS-style: the loops over column blocks (nc),
/// depth blocks (kc) and row blocks (mc) keep a packed kc x nc block of B in the last-level cache and a
/// packed mc x kc block of A in L2, while <see cref="GemmMicroKernel"/> streams micro-panels of both from
/// L1 and L2. Packing goes into per-thread native scratch (<see cref="ThreadScratch"/>), so a call
/// allocates nothing.
/// <para>Threads split C into disjoint bands (of whole micro-tiles) and each runs the whole k loop for its
/// band, so every element of C is computed by the same sequence of operations whatever the thread count:
/// results are bit-identical for 1 or N threads.</para>
/// </summary>
internal static unsafe class GemmKernel
{
    /// <summary>Forces a micro-kernel (tests of each path on one machine); <see cref="GemmPath.Auto"/> picks
    /// the widest the machine supports.</summary>
    internal static GemmPath ForcedPath { get; set; }

    /// <summary>The micro-kernel calls will use now.</summary>
    internal static GemmPath ActivePath => ForcedPath switch
    {
        GemmPath.Auto when Avx512MicroKernel.IsSupported => GemmPath.Avx512,
        GemmPath.Auto when Fma.IsSupported => GemmPath.Avx2,
        GemmPath.Auto => GemmPath.Portable,
        GemmPath.Avx512 when !Avx512MicroKernel.IsSupported => throw new PlatformNotSupportedException("AVX-512 GEMM kernel on a machine without AVX-512F"),
        GemmPath.Avx2 when !Fma.IsSupported => throw new PlatformNotSupportedException("FMA GEMM kernel on a machine without FMA"),
        var forced => forced,
    };

    /// <summary>Up to this many multiply-adds the fan-out to the workers costs more than it saves (OpenBLAS draws
    /// the line at the same place; at 48^3, 32x32x256 ran at 2 threads at under half its 1-thread rate).</summary>
    private const long ParallelThreshold = 64L * 64 * 64;

    // Cache blocking. A kc-deep B micro-panel (16 KiB at 256 bits, 32 KiB at 512) stays in the 48 KiB L1
    // while the kernel sweeps the A block; an mc x kc block of A (~150 KiB) sits in the 1 MiB L2; a
    // kc x nc block of B (3 MiB) in L3. (Measured on a shared 2-core Zen 5 VM, where neighbouring
    // values of kc and mc were within the noise.)
    internal static int DepthBlock<T>() where T : unmanaged => 256;
    internal static int RowBlock<T>() where T : unmanaged => typeof(T) == typeof(float) ? 144 : 72;
    internal static int ColumnBlock<T>() where T : unmanaged => typeof(T) == typeof(float) ? 3072 : 1536;

    /// <summary>C = alpha op(A) op(B) + beta C over all threads (serially when called from inside a
    /// parallel loop).</summary>
    public static void Run<T>(bool transA, bool transB, int m, int n, int k, T alpha, T* a, nint lda, T* b, nint ldb, T beta, T* c, nint ldc)
        where T : unmanaged
    {
        var problem = new GemmProblem<T>(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, null);
        Execute(problem, parallel: true);
    }

    /// <summary>The same on the calling thread only (for kernels that already split work over threads).</summary>
    public static void RunSerial<T>(bool transA, bool transB, int m, int n, int k, T alpha, T* a, nint lda, T* b, nint ldb, T beta, T* c, nint ldc)
        where T : unmanaged
    {
        var problem = new GemmProblem<T>(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, null);
        Execute(problem, parallel: false);
    }

    /// <summary>Elements needed to hold the whole of op(A) [m x k] pre-packed by <see cref="PackWholeA{T}"/>.</summary>
    public static long PackedASize<T>(int m, int k) where T : unmanaged
        => (long)((m + GemmMicroKernel.Rows - 1) / GemmMicroKernel.Rows) * GemmMicroKernel.Rows * Math.Max(k, 1) + GemmPacking.PackedASlack;

    /// <summary>Packs all of alpha op(A) once, for many products with different B (a convolution's weights
    /// against every image of a batch): micro-panels of the full depth k, one after another.</summary>
    public static void PackWholeA<T>(bool transA, int m, int k, T alpha, T* a, nint lda, T* packed) where T : unmanaged
        => GemmPacking.PackA(transA, a, lda, 0, m, 0, k, alpha, packed, (nint)GemmMicroKernel.Rows * k);

    /// <summary>C = packedA op(B) + beta C with A pre-packed by <see cref="PackWholeA{T}"/> (alpha included).</summary>
    public static void RunPackedA<T>(int m, int n, int k, T* packedA, bool transB, T* b, nint ldb, T beta, T* c, nint ldc, bool parallel)
        where T : unmanaged
    {
        var problem = new GemmProblem<T>(false, transB, m, n, k, One<T>(), null, 0, b, ldb, beta, c, ldc, packedA);
        Execute(problem, parallel);
    }

    private static void Execute<T>(in GemmProblem<T> p, bool parallel) where T : unmanaged
    {
        if (typeof(T) != typeof(float) && typeof(T) != typeof(double)) throw new NotSupportedException($"GEMM on {typeof(T).Name}");
        if (p.M <= 0 || p.N <= 0) return;
        if (p.K == 0 || IsZero(p.Alpha))
        {
            ScaleC(p);
            return;
        }
        var path = ActivePath;
        // A product no wider than one 256-bit tile would leave half of every 512-bit tile idle.
        if (path == GemmPath.Avx512 && ForcedPath == GemmPath.Auto && p.N <= Avx2MicroKernel.Columns<T>()) path = GemmPath.Avx2;
        switch (path)
        {
            case GemmPath.Avx512: Execute<T, Avx512MicroKernel>(p, parallel); break;
            case GemmPath.Avx2: Execute<T, Avx2MicroKernel>(p, parallel); break;
            default: Execute<T, PortableMicroKernel>(p, parallel); break;
        }
    }

    private static void Execute<T, TKernel>(in GemmProblem<T> p, bool parallel) where T : unmanaged where TKernel : struct, IGemmMicroKernel
    {
        int rowTiles = (p.M + GemmMicroKernel.Rows - 1) / GemmMicroKernel.Rows;
        int nr = TKernel.Columns<T>();
        int columnTiles = (p.N + nr - 1) / nr;
        bool splitRows = rowTiles >= columnTiles;
        int parts = 1;
        if (parallel && (long)p.M * p.N * p.K > ParallelThreshold)
            parts = Math.Min(CpuParallel.ThreadCount, splitRows ? rowTiles : columnTiles);

        if (parts == 1)
        {
            ComputeBlock<T, TKernel>(p, 0, p.M, 0, p.N);
            return;
        }
        var body = new BandBody<T, TKernel> { Problem = p, Parts = parts, SplitRows = splitRows, RowTiles = rowTiles, ColumnTiles = columnTiles };
        CpuParallel.For(parts, ref body);
    }

    /// <summary>Band t of C (rows or columns, in whole micro-tiles) for each t in the chunk.</summary>
    private struct BandBody<T, TKernel> : IRangeBody where T : unmanaged where TKernel : struct, IGemmMicroKernel
    {
        public GemmProblem<T> Problem;
        public int Parts, RowTiles, ColumnTiles;
        public bool SplitRows;

        public void Run(int start, int end)
        {
            for (int t = start; t < end; t++)
            {
                if (SplitRows)
                {
                    int i0 = CpuParallel.ChunkStart(t, RowTiles, Parts) * GemmMicroKernel.Rows;
                    int i1 = Math.Min(Problem.M, CpuParallel.ChunkEnd(t, RowTiles, Parts) * GemmMicroKernel.Rows);
                    if (i1 > i0) ComputeBlock<T, TKernel>(Problem, i0, i1, 0, Problem.N);
                }
                else
                {
                    int nr = TKernel.Columns<T>();
                    int j0 = CpuParallel.ChunkStart(t, ColumnTiles, Parts) * nr;
                    int j1 = Math.Min(Problem.N, CpuParallel.ChunkEnd(t, ColumnTiles, Parts) * nr);
                    if (j1 > j0) ComputeBlock<T, TKernel>(Problem, 0, Problem.M, j0, j1);
                }
            }
        }
    }

    /// <summary>The serial BLIS loop nest over rows [i0, i1) and columns [j0, j1) of C; i0 and j0 are
    /// multiples of the micro-tile.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ComputeBlock<T, TKernel>(in GemmProblem<T> p, int i0, int i1, int j0, int j1)
        where T : unmanaged where TKernel : struct, IGemmMicroKernel
    {
        const int R = GemmMicroKernel.Rows;
        int nr = TKernel.Columns<T>();
        int kBlocks = (p.K + DepthBlock<T>() - 1) / DepthBlock<T>();
        // Even depth blocks (e.g. 2 x 129 rather than 256 + 2) keep every block worth its packing.
        int kcMax = (p.K + kBlocks - 1) / kBlocks;
        int mcMax = RowBlock<T>();
        int ncMax = Math.Min(ColumnBlock<T>(), (j1 - j0 + nr - 1) / nr * nr);

        // B stored row by row no wider than four panels, for a single row block: the kernel reads its full panels
        // in place, kc steps ldb apart (packing them would cost a good part of what so thin a product does, e.g.
        // a Winograd weight gradient of 16 to 64 channels: 32x32x256 0.87 -> 1.0 of OpenBLAS); only a partial
        // last panel is packed, zero-padded.
        bool bInPlace = !p.TransB && p.Ldb <= 4 * nr && i1 - i0 <= mcMax;
        T* packedB = ThreadScratch.Get<T>(ScratchSlot.GemmPackedB, (long)kcMax * (bInPlace ? nr : ncMax));
        T* packedA = p.PackedA == null ? ThreadScratch.Get<T>(ScratchSlot.GemmPackedA, (long)kcMax * mcMax + GemmPacking.PackedASlack) : null;
        BetaMode firstMode = IsZero(p.Beta) ? BetaMode.Overwrite : IsOne(p.Beta) ? BetaMode.Accumulate : BetaMode.Scale;

        for (int jc = j0; jc < j1; jc += ncMax)
        {
            int nc = Math.Min(ncMax, j1 - jc);
            for (int pc = 0; pc < p.K; pc += kcMax)
            {
                int kc = Math.Min(kcMax, p.K - pc);
                nint bPanelStride = (nint)kc * nr;
                int inPlaceWidth = bInPlace ? nc / nr * nr : 0;
                if (inPlaceWidth < nc)
                    GemmPacking.PackB(p.TransB, p.B, p.Ldb, pc, kc, jc + inPlaceWidth, nc - inPlaceWidth, nr, packedB, bPanelStride);
                BetaMode mode = pc == 0 ? firstMode : BetaMode.Accumulate;
                for (int ic = i0; ic < i1; ic += mcMax)
                {
                    int mc = Math.Min(mcMax, i1 - ic);
                    T* aBlock;
                    nint aPanelStride;
                    if (p.PackedA != null)
                    {
                        aPanelStride = (nint)R * p.K;
                        aBlock = p.PackedA + ic / R * aPanelStride + (nint)pc * R;
                    }
                    else
                    {
                        aPanelStride = (nint)R * kc;
                        GemmPacking.PackA(p.TransA, p.A, p.Lda, ic, mc, pc, kc, p.Alpha, packedA, aPanelStride);
                        aBlock = packedA;
                    }
                    for (int jr = 0; jr < nc; jr += nr)
                    {
                        int width = Math.Min(nr, nc - jr);
                        bool inPlace = jr < inPlaceWidth;
                        T* bPanel = inPlace ? p.B + (nint)pc * p.Ldb + jc + jr : packedB + (jr - inPlaceWidth) / nr * bPanelStride;
                        nint bStride = inPlace ? p.Ldb : nr;
                        T* cColumn = p.C + jc + jr;
                        for (int ir = 0; ir < mc; ir += R)
                        {
                            TKernel.Run<T>(kc, aBlock + ir / R * aPanelStride, bPanel, bStride,
                                cColumn + (nint)(ic + ir) * p.Ldc, p.Ldc, mode, p.Beta, Math.Min(R, mc - ir), width);
                        }
                    }
                }
            }
        }
    }

    /// <summary>C = beta C, for an empty product (k = 0 or alpha = 0); beta = 0 clears C without reading it.</summary>
    private static void ScaleC<T>(in GemmProblem<T> p) where T : unmanaged
    {
        bool zero = IsZero(p.Beta);
        for (int i = 0; i < p.M; i++)
        {
            T* row = p.C + (nint)i * p.Ldc;
            if (zero) new Span<T>(row, p.N).Clear();
            else if (!IsOne(p.Beta))
                for (int j = 0; j < p.N; j++)
                    row[j] = typeof(T) == typeof(float)
                        ? (T)(object)((float)(object)row[j] * (float)(object)p.Beta)
                        : (T)(object)((double)(object)row[j] * (double)(object)p.Beta);
        }
    }

    internal static T One<T>() where T : unmanaged => typeof(T) == typeof(float) ? (T)(object)1f : (T)(object)1.0;

    internal static T FromDouble<T>(double x) where T : unmanaged => typeof(T) == typeof(float) ? (T)(object)(float)x : (T)(object)x;

    private static bool IsZero<T>(T x) where T : unmanaged
        => typeof(T) == typeof(float) ? (float)(object)x == 0f : (double)(object)x == 0.0;

    private static bool IsOne<T>(T x) where T : unmanaged
        => typeof(T) == typeof(float) ? (float)(object)x == 1f : (double)(object)x == 1.0;
}

/// <summary>One GEMM call's operands. <see cref="PackedA"/>, when set, replaces A (already packed, alpha included).</summary>
internal readonly unsafe struct GemmProblem<T>(bool transA, bool transB, int m, int n, int k, T alpha, T* a, nint lda,
    T* b, nint ldb, T beta, T* c, nint ldc, T* packedA) where T : unmanaged
{
    public readonly bool TransA = transA, TransB = transB;
    public readonly int M = m, N = n, K = k;
    public readonly T Alpha = alpha, Beta = beta;
    public readonly T* A = a, B = b, C = c, PackedA = packedA;
    public readonly nint Lda = lda, Ldb = ldb, Ldc = ldc;
}
