using Vicreg.Engine.Backends.Cpu.Gemm;
using Vicreg.Engine.Backends.Cpu;
using Vicreg.Engine;

namespace Vicreg.Tests.Engine.Backends.Cpu;

[Collection(ThreadCountCollection.Name)]
public sealed unsafe class GemmTests
{
    /// <summary>Every awkward size from the brief appears in every position, plus shapes that cross the
    /// cache blocks (k over 256, m over the row block, n over the column block) and edges of 1 to 5 rows.</summary>
    public static readonly (int M, int N, int K)[] Shapes =
    [
        (1, 1, 1), (2, 2, 2), (3, 3, 3), (7, 7, 7), (13, 13, 13), (17, 17, 17), (31, 31, 31), (67, 67, 67), (129, 129, 129),
        (1, 129, 67), (129, 1, 31), (67, 31, 1), (2, 17, 13), (17, 3, 129), (31, 67, 2), (7, 13, 300),
        (150, 17, 513), (13, 300, 257), (80, 1600, 5), (6, 16, 256), (12, 32, 7), (7, 3100, 3),
        // B exactly one panel wide (16 floats, 8 doubles at 256 bits; 32 floats at 512), read in place, deeper than a block.
        (13, 16, 300), (9, 8, 300), (7, 32, 301), (16, 9, 33), (10, 45, 20),
    ];

    public static TheoryData<bool, bool, int> Cases()
    {
        var data = new TheoryData<bool, bool, int>();
        foreach (bool ta in new[] { false, true })
            foreach (bool tb in new[] { false, true })
                foreach (int threads in new[] { 1, 2 })
                    data.Add(ta, tb, threads);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Float32MatchesReference(bool transA, bool transB, int threads)
    {
        using var _ = new ThreadCountScope(threads);
        ulong seed = 1;
        foreach (var (m, n, k) in Shapes) CheckAllScalings<float>(transA, transB, m, n, k, seed++);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Float64MatchesReference(bool transA, bool transB, int threads)
    {
        using var _ = new ThreadCountScope(threads);
        ulong seed = 100;
        foreach (var (m, n, k) in Shapes) CheckAllScalings<double>(transA, transB, m, n, k, seed++);
    }

    /// <summary>Each micro-kernel the machine can run (the main tests cover the automatic choice).</summary>
    [SkippableTheory]
    [InlineData("Avx512", false, false)]
    [InlineData("Avx512", true, true)]
    [InlineData("Avx2", false, true)]
    [InlineData("Avx2", true, false)]
    [InlineData("Portable", false, false)]
    [InlineData("Portable", true, true)]
    public void EveryMicroKernelMatchesReference(string kernel, bool transA, bool transB)
    {
        var path = Enum.Parse<GemmPath>(kernel);
        Skip.If(path == GemmPath.Avx512 && !System.Runtime.Intrinsics.X86.Avx512F.IsSupported, "no AVX-512 on this machine");
        Skip.If(path == GemmPath.Avx2 && !System.Runtime.Intrinsics.X86.Fma.IsSupported, "no FMA on this machine");
        using var _ = new ThreadCountScope(2, path);
        ulong seed = 200;
        foreach (var (m, n, k) in Shapes)
        {
            CheckAllScalings<float>(transA, transB, m, n, k, seed++);
            CheckAllScalings<double>(transA, transB, m, n, k, seed++);
        }
    }

    /// <summary>(alpha, beta, NaN in C first): beta 0 must ignore garbage in C, as BLAS.</summary>
    private static readonly (double Alpha, double Beta, bool NanInC)[] Scalings =
        [(1.0, 0.0, true), (0.7, -1.3, false), (-2.5, 1.0, false), (0.5, 0.0, true)];

    /// <summary>Runs GemmKernel.Run on random operands with each scaling and compares with a double-precision
    /// triple loop (computed once per shape), element by element, against the rounding bound of a k-term sum.</summary>
    private static void CheckAllScalings<T>(bool transA, bool transB, int m, int n, int k, ulong seed) where T : unmanaged
    {
        var a = TestData.Convert<T>(TestData.Uniform(m * k, seed));
        var b = TestData.Convert<T>(TestData.Uniform(k * n, seed + 1));
        int lda = transA ? m : k, ldb = transB ? k : n;
        double[] ad = TestData.ToDouble(a), bd = TestData.ToDouble(b);
        var product = new double[m * n];
        var magnitude = new double[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double sum = 0, abs = 0;
                for (int p = 0; p < k; p++)
                {
                    double term = (transA ? ad[p * lda + i] : ad[i * lda + p]) * (transB ? bd[j * ldb + p] : bd[p * ldb + j]);
                    sum += term;
                    abs += Math.Abs(term);
                }
                product[i * n + j] = sum;
                magnitude[i * n + j] = abs;
            }

        foreach (var (alpha, beta, nanInC) in Scalings)
        {
            var c0 = TestData.Convert<T>(TestData.Uniform(m * n, seed + 2));
            if (nanInC) Array.Fill(c0, typeof(T) == typeof(float) ? (T)(object)float.NaN : (T)(object)double.NaN);
            var c = (T[])c0.Clone();
            fixed (T* pa = a, pb = b, pc = c)
                GemmKernel.Run(transA, transB, m, n, k, GemmKernel.FromDouble<T>(alpha), pa, lda, pb, ldb, GemmKernel.FromDouble<T>(beta), pc, n);
            double[] cd0 = TestData.ToDouble(c0), cd = TestData.ToDouble(c);
            for (int e = 0; e < m * n; e++)
            {
                double expected = alpha * product[e], scale = Math.Abs(alpha) * magnitude[e];
                if (beta != 0)
                {
                    expected += beta * cd0[e];
                    scale += Math.Abs(beta * cd0[e]);
                }
                double error = Math.Abs(cd[e] - expected), bound = TestData.Bound<T>(k, scale);
                if (!(error <= bound))
                    Assert.Fail($"{typeof(T).Name} {(transA ? "T" : "N")}{(transB ? "T" : "N")} m={m} n={n} k={k} alpha={alpha} beta={beta} " +
                        $"threads={CpuParallel.ThreadCount}: c[{e / n},{e % n}] = {cd[e]}, expected {expected} (error {error:E2}, bound {bound:E2})");
            }
        }
    }

    /// <summary>Leading dimensions wider than the rows (sub-matrices, as the convolution passes) give the
    /// same bits as packed operands, and C's padding is never written.</summary>
    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void LeadingDimensionsWiderThanRowsAreHonoured(bool transA, bool transB)
    {
        const int m = 37, n = 45, k = 29, pad = 5;
        var a = TestData.Convert<float>(TestData.Uniform(m * k, 61));
        var b = TestData.Convert<float>(TestData.Uniform(k * n, 62));
        var c = TestData.Convert<float>(TestData.Uniform(m * n, 63));
        int lda = transA ? m : k, ldb = transB ? k : n;
        int aRows = transA ? k : m, bRows = transB ? n : k;
        var aWide = Widen(a, aRows, lda, pad);
        var bWide = Widen(b, bRows, ldb, pad);
        var cWide = Widen(c, m, n, pad);
        var cWideBefore = (float[])cWide.Clone();
        fixed (float* pa = a, pb = b, pc = c, qa = aWide, qb = bWide, qc = cWide)
        {
            GemmKernel.Run(transA, transB, m, n, k, 1.25f, pa, lda, pb, ldb, -0.5f, pc, n);
            GemmKernel.Run(transA, transB, m, n, k, 1.25f, qa, lda + pad, qb, ldb + pad, -0.5f, qc, n + pad);
        }
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++) Assert.Equal(c[i * n + j], cWide[i * (n + pad) + j]);
            for (int j = n; j < n + pad; j++) Assert.Equal(cWideBefore[i * (n + pad) + j], cWide[i * (n + pad) + j]);
        }
    }

    /// <summary>The rows of a [rows x width] matrix copied into rows of width + pad, the padding random.</summary>
    private static float[] Widen(float[] source, int rows, int width, int pad)
    {
        var wide = TestData.Convert<float>(TestData.Uniform(rows * (width + pad), 99));
        for (int r = 0; r < rows; r++) Array.Copy(source, r * width, wide, r * (width + pad), width);
        return wide;
    }

    /// <summary>A pre-packed A (<see cref="GemmKernel.PackWholeA{T}"/> + <see cref="GemmKernel.RunPackedA{T}"/>, as the
    /// convolutions issue it, with B and C wider than the product like Winograd's padded rows) gives the same bits
    /// as <see cref="GemmKernel.Run{T}"/>, on every micro-kernel the machine has, and leaves C's padding alone.</summary>
    [SkippableTheory]
    [InlineData("Avx512")]
    [InlineData("Avx2")]
    [InlineData("Portable")]
    public void PrePackedAMatchesRun(string kernel)
    {
        var path = Enum.Parse<GemmPath>(kernel);
        Skip.If(path == GemmPath.Avx512 && !System.Runtime.Intrinsics.X86.Avx512F.IsSupported, "no AVX-512 on this machine");
        Skip.If(path == GemmPath.Avx2 && !System.Runtime.Intrinsics.X86.Fma.IsSupported, "no FMA on this machine");
        using var _ = new ThreadCountScope(1, path);
        const int pad = 7;
        ulong seed = 300;
        foreach (var (m, n, k) in Shapes)
            foreach (bool transA in new[] { false, true })
                foreach (bool transB in new[] { false, true })
                {
                    int lda = transA ? m : k, ldb = (transB ? k : n) + pad, ldc = n + pad;
                    var a = TestData.Convert<float>(TestData.Uniform(m * k, seed++));
                    var b = TestData.Convert<float>(TestData.Uniform((transB ? n : k) * ldb, seed++));
                    var c0 = TestData.Convert<float>(TestData.Uniform(m * ldc, seed++));
                    var expected = (float[])c0.Clone();
                    var actual = (float[])c0.Clone();
                    var packed = new float[GemmKernel.PackedASize<float>(m, k)];
                    fixed (float* pa = a, pb = b, pe = expected, pq = actual, pp = packed)
                    {
                        GemmKernel.Run(transA, transB, m, n, k, 0.75f, pa, lda, pb, ldb, 0.5f, pe, ldc);
                        GemmKernel.PackWholeA(transA, m, k, 0.75f, pa, lda, pp);
                        GemmKernel.RunPackedA(m, n, k, pp, transB, pb, ldb, 0.5f, pq, ldc, parallel: false);
                    }
                    for (int i = 0; i < m; i++)
                        for (int j = 0; j < ldc; j++)
                            if (actual[i * ldc + j] != expected[i * ldc + j])
                                Assert.Fail($"{kernel} {(transA ? "T" : "N")}{(transB ? "T" : "N")} m={m} n={n} k={k}: c[{i},{j}] = " +
                                    $"{actual[i * ldc + j]}, Run gives {expected[i * ldc + j]}{(j >= n ? " (padding)" : "")}");
                }
    }

    [Fact]
    public void AlphaZeroOrEmptyDepthScalesC()
    {
        var c = TestData.Convert<float>(TestData.Uniform(35, 7));
        var expected = Array.ConvertAll(c, v => v * -0.5f);
        var a = TestData.Convert<float>(TestData.Uniform(35, 8));
        fixed (float* pc = c, pa = a)
        {
            GemmKernel.Run(false, false, 5, 7, 0, 1f, pa, 0, pa, 7, -0.5f, pc, 7);
            Assert.Equal(expected, c);
            var nan = new float[35];
            Array.Fill(nan, float.NaN);
            fixed (float* pn = nan) GemmKernel.Run(false, false, 5, 7, 5, 0f, pa, 5, pa, 7, 0f, pn, 7);
            Assert.All(nan, v => Assert.Equal(0f, v));
        }
    }

    [Fact]
    public void ResultsAreBitIdenticalAcrossRunsAndThreadCounts()
    {
        // Bands of C are disjoint and each runs the whole k loop, so even the thread count must not matter.
        const int m = 131, n = 203, k = 517;
        var a = TestData.Convert<float>(TestData.Uniform(m * k, 11));
        var b = TestData.Convert<float>(TestData.Uniform(k * n, 12));
        float[] Run(int threads)
        {
            using var _ = new ThreadCountScope(threads);
            var c = TestData.Convert<float>(TestData.Uniform(m * n, 13));
            fixed (float* pa = a, pb = b, pc = c) GemmKernel.Run(false, true, m, n, k, 0.9f, pa, k, pb, k, 0.3f, pc, n);
            return c;
        }
        var first = Run(2);
        Assert.Equal(first, Run(2));
        Assert.Equal(first, Run(1));
    }

    [Fact]
    public void SteadyStateCallAllocatesNothing()
    {
        using var _ = new ThreadCountScope(2);
        const int m = 200, n = 300, k = 400;
        var a = TestData.Convert<float>(TestData.Uniform(m * k, 21));
        var b = TestData.Convert<float>(TestData.Uniform(k * n, 22));
        var c = new float[m * n];
        fixed (float* pa = a, pb = b, pc = c)
        {
            for (int i = 0; i < 3; i++) GemmKernel.Run(false, false, m, n, k, 1f, pa, k, pb, n, 0f, pc, n);
            long before = GC.GetAllocatedBytesForCurrentThread();
            GemmKernel.Run(false, false, m, n, k, 1f, pa, k, pb, n, 0f, pc, n);
            GemmKernel.Run(true, true, n, m, k, 1f, pb, n, pa, k, 0f, pc, m);
            Assert.Equal(before, GC.GetAllocatedBytesForCurrentThread());
        }
    }

    [Fact]
    public void BackendGemmOnTensorsMatchesKernelAndChecksShapes()
    {
        var backend = CpuBackend.Instance;
        var av = TestData.Convert<float>(TestData.Uniform(5 * 3, 31));
        var bv = TestData.Convert<float>(TestData.Uniform(4 * 5, 32));
        using var a = Tensor.FromArray<float>(av, new Shape(5, 3), backend);   // used transposed: [3 x 5]
        using var b = Tensor.FromArray<float>(bv, new Shape(4, 5), backend);   // used transposed: [5 x 4]
        using var c = Tensor.Full(new Shape(3, 4), 2.0, DType.Float32, backend);
        backend.Gemm(true, true, 1.5, a, b, 0.5, c);
        var actual = c.ToArray<float>();
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 4; j++)
            {
                double sum = 0;
                for (int p = 0; p < 5; p++) sum += (double)av[p * 3 + i] * bv[j * 5 + p];
                Assert.Equal(1.5 * sum + 1.0, actual[i * 4 + j], 4);
            }
        using var wrong = Tensor.Zeros(new Shape(4, 4), DType.Float32, backend);
        Assert.Throws<ShapeMismatchException>(() => backend.Gemm(true, true, 1, a, b, 0, wrong));
    }
}
