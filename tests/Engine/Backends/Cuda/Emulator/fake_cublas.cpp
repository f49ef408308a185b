// A fake libcublas.so.12: plain column-major SGEMM (double accumulation) with cuBLAS's argument conventions;
// in CUBLAS_TF32_TENSOR_OP_MATH it rounds the operands to TF32 first, as tensor cores do.
// Fault for the tests (emu_cublas_inject "allocation_failures" N): the next N SGEMMs fail with CUBLAS_STATUS_ALLOC_FAILED.
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include "tf32.h"
static int g_allocation_failures = 0;
struct Handle { void* stream = nullptr; int math = 0; }; // each backend has its own handle on its own stream

// Work on a stream starts after the copies queued on it (see fake_driver.cpp).
static void flush_stream(void* handle)
{
    static void (*flush)(void*) = [] {
        void* driver = dlopen("libcuda.so.1", RTLD_NOW | RTLD_NOLOAD);
        return driver ? (void (*)(void*))dlsym(driver, "emu_stream_flush") : nullptr;
    }();
    if (flush) flush(((Handle*)handle)->stream);
}

extern "C" {
void emu_cublas_inject(const char* fault, long long value)
{
    if (strcmp(fault, "allocation_failures") != 0) { fprintf(stderr, "fake libcublas: unknown fault %s\n", fault); abort(); }
    g_allocation_failures = (int)value;
}
int cublasCreate_v2(void** h) { *h = new Handle(); return 0; }
int cublasDestroy_v2(void* h) { delete (Handle*)h; return 0; }
int cublasSetStream_v2(void* h, void* stream) { ((Handle*)h)->stream = stream; return 0; }
int cublasSetMathMode(void* h, int mode) { if (mode != 0 && mode != 3) return 7; ((Handle*)h)->math = mode; return 0; }
int cublasSetWorkspace_v2(void*, void*, size_t) { return 0; }
int cublasGetProperty(int p, int* v) { *v = p == 0 ? 12 : p == 1 ? 4 : 0; return 0; }
int cublasSgemm_v2(void* h, int ta, int tb, int m, int n, int k, const float* alpha, const float* a, int lda,
                   const float* b, int ldb, const float* beta, float* c, int ldc)
{
    if (m < 0 || n < 0 || k < 0 || lda < (ta ? k : m) || ldb < (tb ? n : k) || ldc < m) return 7; // INVALID_VALUE, as cuBLAS checks
    if (lda < 1 || ldb < 1 || ldc < 1) return 7;
    flush_stream(h);
    if (g_allocation_failures > 0) { g_allocation_failures--; return 3; } // CUBLAS_STATUS_ALLOC_FAILED
    for (int j = 0; j < n; j++)
        for (int i = 0; i < m; i++)
        {
            double s = 0;
            for (int p = 0; p < k; p++)
            {
                float av = ta ? a[p + (size_t)i * lda] : a[i + (size_t)p * lda];
                float bv = tb ? b[j + (size_t)p * ldb] : b[p + (size_t)j * ldb];
                if (((Handle*)h)->math == 3) { av = tf32(av); bv = tf32(bv); }
                s += (double)av * bv;
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
