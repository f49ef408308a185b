using System.Runtime.InteropServices;

namespace Vicreg.Bench;

/// <summary>The anchor: OpenBLAS (Debian libopenblas0-pthread) through the CBLAS interface. Bench-only:
/// the engine never links it.</summary>
public static unsafe partial class OpenBlas
{
    private const string Library = "libopenblas.so.0";
    public const int RowMajor = 101, NoTrans = 111, Trans = 112;

    [LibraryImport(Library, EntryPoint = "cblas_sgemm")]
    private static partial void CblasSgemm(int order, int transA, int transB, int m, int n, int k,
        float alpha, float* a, int lda, float* b, int ldb, float beta, float* c, int ldc);

    [LibraryImport(Library, EntryPoint = "openblas_set_num_threads")]
    private static partial void SetNumThreads(int threads);

    [LibraryImport(Library, EntryPoint = "openblas_get_corename")]
    private static partial nint GetCoreName();

    public static bool IsAvailable
    {
        get
        {
            if (!NativeLibrary.TryLoad(Library, out var handle)) return false;
            NativeLibrary.Free(handle);
            return true;
        }
    }

    public static string CoreName => Marshal.PtrToStringUTF8(GetCoreName()) ?? "?";

    public static void Threads(int threads) => SetNumThreads(threads);

    /// <summary>Row-major C = alpha op(A) op(B) + beta C, leading dimensions as the engine's GemmKernel.</summary>
    public static void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha, float* a, int lda, float* b, int ldb,
        float beta, float* c, int ldc)
        => CblasSgemm(RowMajor, transA ? Trans : NoTrans, transB ? Trans : NoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
