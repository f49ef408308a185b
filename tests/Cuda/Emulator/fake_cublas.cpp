// A fake libcublas.so.12: plain column-major SGEMM (double accumulation) with cuBLAS's argument conventions.
#include <cstddef>
extern "C" {
int cublasCreate_v2(void** h) { *h = (void*)0x3; return 0; }
int cublasDestroy_v2(void*) { return 0; }
int cublasSetStream_v2(void*, void*) { return 0; }
int cublasSetMathMode(void*, int mode) { return mode == 0 || mode == 3 ? 0 : 7; }
int cublasSetWorkspace_v2(void*, void*, size_t) { return 0; }
int cublasGetProperty(int p, int* v) { *v = p == 0 ? 12 : p == 1 ? 4 : 0; return 0; }
int cublasSgemm_v2(void*, int ta, int tb, int m, int n, int k, const float* alpha, const float* a, int lda,
                   const float* b, int ldb, const float* beta, float* c, int ldc)
{
    if (m < 0 || n < 0 || k < 0 || lda < (ta ? k : m) || ldb < (tb ? n : k) || ldc < m) return 7; // INVALID_VALUE, as cuBLAS checks
    if (lda < 1 || ldb < 1 || ldc < 1) return 7;
    for (int j = 0; j < n; j++)
        for (int i = 0; i < m; i++)
        {
            double s = 0;
            for (int p = 0; p < k; p++)
            {
                double av = ta ? a[p + (size_t)i * lda] : a[i + (size_t)p * lda];
                double bv = tb ? b[j + (size_t)p * ldb] : b[p + (size_t)j * ldb];
                s += av * bv;
            }
            float* cv = &c[i + (size_t)j * ldc];
            *cv = (float)(*alpha * s + (*beta == 0 ? 0.0 : *beta * *cv));
        }
    return 0;
}
int cublasSgemmStridedBatched(void* h, int ta, int tb, int m, int n, int k, const float* alpha, const float* a, int lda, long long sa,
                              const float* b, int ldb, long long sb, const float* beta, float* c, int ldc, long long sc, int count)
{
    for (int i = 0; i < count; i++)
    {
        int r = cublasSgemm_v2(h, ta, tb, m, n, k, alpha, a + i * sa, lda, b + i * sb, ldb, beta, c + i * sc, ldc);
        if (r) return r;
    }
    return 0;
}
int cublasGemmEx(void*, int, int, int, int, int, const void*, const void*, int, int, const void*, int, int, const void*, void*, int, int, int, int)
{
    return 15; // NOT_SUPPORTED: the backend does not call it
}
}
