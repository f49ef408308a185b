using Vicreg.Engine.Backends.Cuda.Native;

namespace Vicreg.Engine.Backends.Cuda;

public sealed unsafe partial class CudaBackend
{
    public void Gemm(bool transposeA, bool transposeB, double alpha, Tensor a, Tensor b, double beta, Tensor c)
    {
        KernelChecks.Gemm(transposeA, transposeB, a, b, c);
        nint ap = F32(a, nameof(Gemm)), bp = F32(b, nameof(Gemm)), cp = F32(c, nameof(Gemm));
        int m = c.Shape[0], n = c.Shape[1];
        int k = transposeA ? a.Shape[0] : a.Shape[1];
        GemmRowMajor(transposeA, transposeB, m, n, k, (float)alpha, ap, bp, (float)beta, cp);
    }

    /// <summary>
    /// Row-major C[m,n] = alpha op(A) op(B) + beta C on contiguous operands. cuBLAS is column-major, and a
    /// row-major matrix read column-major is its transpose, so we ask cuBLAS for C^T = op(B)^T op(A)^T:
    /// B goes first, the dimensions m and n swap, and each leading dimension is its operand's row length.
    /// </summary>
    internal void GemmRowMajor(bool transposeA, bool transposeB, int m, int n, int k, float alpha, nint a, nint b, float beta, nint c)
    {
        if (m == 0 || n == 0) return;
        MakeCurrent();
        // Row length of each operand as stored ([m,k] or [k,m]; [k,n] or [n,k]); cuBLAS rejects 0 even when k is 0.
        int lda = Math.Max(1, transposeA ? m : k);
        int ldb = Math.Max(1, transposeB ? k : n);
        int opB = transposeB ? Cublas.OpT : Cublas.OpN, opA = transposeA ? Cublas.OpT : Cublas.OpN;
        int status = Cublas.cublasSgemm(_cublas, opB, opA, n, m, k, &alpha, b, ldb, a, lda, &beta, c, n);
        if (status == Cublas.StatusAllocFailed)
        {
            // cuBLAS could not allocate its own workspace: give it the memory our cache holds and try once more.
            EmptyCache();
            status = Cublas.cublasSgemm(_cublas, opB, opA, n, m, k, &alpha, b, ldb, a, lda, &beta, c, n);
        }
        Cublas.Check(status, "cublasSgemm_v2");
    }
}
