// A fake libcudnn.so.9 that checks how the backend drives cuDNN: descriptors must describe the buffers
// consistently (x, w, y shapes agree with the convolution parameters), the algorithm must be one this fake
// offers as usable, and the workspace must be at least what was asked for. The heuristic lists put an
// unsupported algorithm and one needing more workspace than the device has first, and a non-deterministic one
// before a deterministic one, so the backend's filtering is exercised. Convolutions are direct loops in double.
// Statuses are cuDNN 9's numbers. Unless the math type is CUDNN_FMA_MATH, inputs are rounded to TF32, as cuDNN's
// tensor-core algorithms do on Ampere and later (the emulated device is sm_80). Batch norm and pooling are bound but unused: they return NOT_SUPPORTED.
//
// Faults for the tests (emu_cudnn_inject): cudnnCreate failing, a sub-library that cannot load (every convolution
// call fails), an algorithm refused at run time, device allocations failing inside cuDNN, a wrong forward result,
// and the version reported.
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <dlfcn.h>
#include "tf32.h"
#include <string>
#include <vector>

enum { OK = 0, NOT_INITIALIZED = 1001, SUBLIBRARY_LOADING_FAILED = 1008, BAD_PARAM = 2000, NOT_SUPPORTED = 3000, DEVICE_ALLOCATION_FAILED = 4004 };
struct Tensor4 { int n = 0, c = 0, h = 0, w = 0; bool set = false; };
struct Conv { int ph = 0, pw = 0, sh = 1, sw = 1, dh = 1, dw = 1, mode = -1, type = -1, math = 0; };
struct Perf { int algo, status; float time; size_t memory; int determinism, math, reserved[3]; };
static_assert(sizeof(Perf) == 48, "cudnnConvolutionFwdAlgoPerf_t is 48 bytes");

static bool g_create_fails = false, g_sublibrary_missing = false, g_wrong_result = false;
static int g_refused_algorithm = -1, g_allocation_failures = 0;
static size_t g_version = 90100;
struct Handle { void* stream = nullptr; }; // each backend has its own handle on its own stream

extern "C" void emu_cudnn_inject(const char* fault, long long value)
{
    std::string f = fault;
    if (f == "create_fails") g_create_fails = value != 0;
    else if (f == "sublibrary_missing") g_sublibrary_missing = value != 0;
    else if (f == "wrong_result") g_wrong_result = value != 0;
    else if (f == "refused_algorithm") g_refused_algorithm = (int)value;
    else if (f == "allocation_failures") g_allocation_failures = (int)value;
    else if (f == "version") g_version = value > 0 ? (size_t)value : 90100;
    else { fprintf(stderr, "fake libcudnn: unknown fault %s\n", fault); abort(); }
}

// Work on a stream starts after the copies queued on it (see fake_driver.cpp).
static void flush_stream(void* handle)
{
    static void (*flush)(void*) = [] {
        void* driver = dlopen("libcuda.so.1", RTLD_NOW | RTLD_NOLOAD);
        return driver ? (void (*)(void*))dlsym(driver, "emu_stream_flush") : nullptr;
    }();
    if (flush) flush(((Handle*)handle)->stream);
}

// The checks every convolution call shares, then the injected run-time faults.
static int run_faults(void* handle, int algo)
{
    flush_stream(handle);
    if (g_sublibrary_missing) return SUBLIBRARY_LOADING_FAILED;
    if (algo == g_refused_algorithm) return NOT_SUPPORTED;
    if (g_allocation_failures > 0) { g_allocation_failures--; return DEVICE_ALLOCATION_FAILED; }
    return OK;
}

static size_t workspace_for(int algo) { return algo == 0 ? 4096 : algo == 2 ? 0 : (size_t)3 << 30; }

static int check(const Tensor4* x, const Tensor4* w, const Conv* c, const Tensor4* y)
{
    if (!x->set || !w->set || !y->set || c->mode != 1 || c->type != 0) return BAD_PARAM;
    if (x->c != w->c || y->n != x->n || y->c != w->n) return BAD_PARAM;
    if (y->h != (x->h + 2 * c->ph - (w->h - 1) * c->dh - 1) / c->sh + 1) return BAD_PARAM;
    if (y->w != (x->w + 2 * c->pw - (w->w - 1) * c->dw - 1) / c->sw + 1) return BAD_PARAM;
    return OK;
}

static int usable(int algo, const void* ws, size_t bytes)
{
    if (algo != 0 && algo != 2) return BAD_PARAM;
    if (bytes < workspace_for(algo) || (workspace_for(algo) > 0 && ws == nullptr)) return BAD_PARAM;
    return OK;
}

static int heuristics(int requested, int* returned, Perf* out)
{
    if (g_sublibrary_missing) return SUBLIBRARY_LOADING_FAILED;
    // Unsupported; 3 GiB of workspace (more than the emulated device has); non-deterministic; deterministic.
    Perf list[4] = {{5, NOT_SUPPORTED, 0, 0, 1, 0, {}}, {1, OK, 0, (size_t)3 << 30, 1, 0, {}}, {0, OK, 0, 4096, 0, 0, {}}, {2, OK, 0, 0, 1, 0, {}}};
    int n = requested < 4 ? requested : 4;
    for (int i = 0; i < n; i++) out[i] = list[i];
    *returned = n;
    return OK;
}

// y[n,k,oh,ow] = sum x[n,c,ih,iw] * w[k,c,r,s]; 'visit' gets the three flat indices of every product.
template <typename F>
static void each_product(const Tensor4* x, const Tensor4* w, const Conv* c, const Tensor4* y, F visit)
{
    for (int n = 0; n < y->n; n++)
        for (int k = 0; k < y->c; k++)
            for (int oh = 0; oh < y->h; oh++)
                for (int ow = 0; ow < y->w; ow++)
                    for (int ch = 0; ch < x->c; ch++)
                        for (int r = 0; r < w->h; r++)
                            for (int s = 0; s < w->w; s++)
                            {
                                int ih = oh * c->sh - c->ph + r * c->dh, iw = ow * c->sw - c->pw + s * c->dw;
                                if (ih < 0 || ih >= x->h || iw < 0 || iw >= x->w) continue;
                                visit((((size_t)n * x->c + ch) * x->h + ih) * x->w + iw, (((size_t)k * w->c + ch) * w->h + r) * w->w + s,
                                      (((size_t)n * y->c + k) * y->h + oh) * y->w + ow);
                            }
}

static float in(const Conv* c, float v) { return c->math == 3 ? v : tf32(v); } // 3: CUDNN_FMA_MATH

static void blend(float* out, const std::vector<double>& acc, float alpha, float beta)
{
    for (size_t i = 0; i < acc.size(); i++) out[i] = (float)(alpha * acc[i] + (beta == 0 ? 0.0 : beta * out[i]));
}

extern "C" {
size_t cudnnGetVersion() { return g_version; }
const char* cudnnGetErrorString(int s)
{
    return s == OK ? "CUDNN_STATUS_SUCCESS" : s == BAD_PARAM ? "CUDNN_STATUS_BAD_PARAM" : s == NOT_SUPPORTED ? "CUDNN_STATUS_NOT_SUPPORTED"
         : s == NOT_INITIALIZED ? "CUDNN_STATUS_NOT_INITIALIZED" : s == SUBLIBRARY_LOADING_FAILED ? "CUDNN_STATUS_SUBLIBRARY_LOADING_FAILED"
         : s == DEVICE_ALLOCATION_FAILED ? "CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED" : "CUDNN_STATUS_UNKNOWN";
}
int cudnnCreate(void** h) { if (g_create_fails) return NOT_INITIALIZED; *h = new Handle(); return OK; }
int cudnnDestroy(void* h) { delete (Handle*)h; return OK; }
int cudnnSetStream(void* h, void* stream) { ((Handle*)h)->stream = stream; return OK; }
int cudnnCreateTensorDescriptor(Tensor4** d) { *d = new Tensor4(); return OK; }
int cudnnDestroyTensorDescriptor(Tensor4* d) { delete d; return OK; }
int cudnnSetTensor4dDescriptor(Tensor4* d, int format, int type, int n, int c, int h, int w)
{
    if (format != 0 || type != 0 || n <= 0 || c <= 0 || h <= 0 || w <= 0) return BAD_PARAM;
    *d = {n, c, h, w, true};
    return OK;
}
int cudnnSetTensorNdDescriptor(Tensor4*, int, int, const int*, const int*) { return NOT_SUPPORTED; }
int cudnnCreateFilterDescriptor(Tensor4** d) { *d = new Tensor4(); return OK; }
int cudnnDestroyFilterDescriptor(Tensor4* d) { delete d; return OK; }
int cudnnSetFilter4dDescriptor(Tensor4* d, int type, int format, int k, int c, int h, int w)
{
    if (format != 0 || type != 0 || k <= 0 || c <= 0 || h <= 0 || w <= 0) return BAD_PARAM;
    *d = {k, c, h, w, true};
    return OK;
}
int cudnnCreateConvolutionDescriptor(Conv** d) { *d = new Conv(); return OK; }
int cudnnDestroyConvolutionDescriptor(Conv* d) { delete d; return OK; }
int cudnnSetConvolution2dDescriptor(Conv* d, int ph, int pw, int sh, int sw, int dh, int dw, int mode, int type)
{
    if (ph < 0 || pw < 0 || sh <= 0 || sw <= 0 || dh <= 0 || dw <= 0) return BAD_PARAM;
    d->ph = ph; d->pw = pw; d->sh = sh; d->sw = sw; d->dh = dh; d->dw = dw; d->mode = mode; d->type = type;
    return OK;
}
int cudnnSetConvolutionMathType(Conv* d, int math) { if (math < 0 || math > 3) return BAD_PARAM; d->math = math; return OK; }
int cudnnSetConvolutionGroupCount(Conv*, int groups) { return groups == 1 ? OK : NOT_SUPPORTED; }

int cudnnGetConvolutionForwardAlgorithm_v7(void*, Tensor4* x, Tensor4* w, Conv* c, Tensor4* y, int req, int* ret, Perf* p)
{ int s = check(x, w, c, y); return s ? s : heuristics(req, ret, p); }
int cudnnGetConvolutionBackwardDataAlgorithm_v7(void*, Tensor4* w, Tensor4* dy, Conv* c, Tensor4* dx, int req, int* ret, Perf* p)
{ int s = check(dx, w, c, dy); return s ? s : heuristics(req, ret, p); }
int cudnnGetConvolutionBackwardFilterAlgorithm_v7(void*, Tensor4* x, Tensor4* dy, Conv* c, Tensor4* dw, int req, int* ret, Perf* p)
{ int s = check(x, dw, c, dy); return s ? s : heuristics(req, ret, p); }
int cudnnFindConvolutionForwardAlgorithmEx(void*, Tensor4* x, void*, Tensor4* w, void*, Conv* c, Tensor4* y, void* yp, int req, int* ret, Perf* p, void*, size_t)
{ int s = check(x, w, c, y); return s ? s : yp == nullptr ? BAD_PARAM : heuristics(req, ret, p); }
int cudnnFindConvolutionBackwardDataAlgorithmEx(void*, Tensor4* w, void*, Tensor4* dy, void*, Conv* c, Tensor4* dx, void* dxp, int req, int* ret, Perf* p, void*, size_t)
{ int s = check(dx, w, c, dy); return s ? s : dxp == nullptr ? BAD_PARAM : heuristics(req, ret, p); }
int cudnnFindConvolutionBackwardFilterAlgorithmEx(void*, Tensor4* x, void*, Tensor4* dy, void*, Conv* c, Tensor4* dw, void* dwp, int req, int* ret, Perf* p, void*, size_t)
{ int s = check(x, dw, c, dy); return s ? s : dwp == nullptr ? BAD_PARAM : heuristics(req, ret, p); }

int cudnnGetConvolutionForwardWorkspaceSize(void*, Tensor4* x, Tensor4* w, Conv* c, Tensor4* y, int algo, size_t* b)
{ int s = check(x, w, c, y); *b = workspace_for(algo); return s; }
int cudnnGetConvolutionBackwardDataWorkspaceSize(void*, Tensor4* w, Tensor4* dy, Conv* c, Tensor4* dx, int algo, size_t* b)
{ int s = check(dx, w, c, dy); *b = workspace_for(algo); return s; }
int cudnnGetConvolutionBackwardFilterWorkspaceSize(void*, Tensor4* x, Tensor4* dy, Conv* c, Tensor4* dw, int algo, size_t* b)
{ int s = check(x, dw, c, dy); *b = workspace_for(algo); return s; }

int cudnnConvolutionForward(void* h, const float* alpha, Tensor4* xd, const float* x, Tensor4* wd, const float* w, Conv* c, int algo,
                            void* ws, size_t bytes, const float* beta, Tensor4* yd, float* y)
{
    if (int s = check(xd, wd, c, yd)) return s;
    if (int s = usable(algo, ws, bytes)) return s;
    if (int s = run_faults(h, algo)) return s;
    std::vector<double> acc((size_t)yd->n * yd->c * yd->h * yd->w);
    each_product(xd, wd, c, yd, [&](size_t i, size_t k, size_t o) { acc[o] += (double)in(c, x[i]) * in(c, w[k]); });
    if (g_wrong_result) acc[0] += 1;
    blend(y, acc, *alpha, *beta);
    return OK;
}
int cudnnConvolutionBackwardData(void* h, const float* alpha, Tensor4* wd, const float* w, Tensor4* dyd, const float* dy, Conv* c, int algo,
                                 void* ws, size_t bytes, const float* beta, Tensor4* dxd, float* dx)
{
    if (int s = check(dxd, wd, c, dyd)) return s;
    if (int s = usable(algo, ws, bytes)) return s;
    if (int s = run_faults(h, algo)) return s;
    std::vector<double> acc((size_t)dxd->n * dxd->c * dxd->h * dxd->w);
    each_product(dxd, wd, c, dyd, [&](size_t i, size_t k, size_t o) { acc[i] += (double)in(c, dy[o]) * in(c, w[k]); });
    blend(dx, acc, *alpha, *beta);
    return OK;
}
int cudnnConvolutionBackwardFilter(void* h, const float* alpha, Tensor4* xd, const float* x, Tensor4* dyd, const float* dy, Conv* c, int algo,
                                   void* ws, size_t bytes, const float* beta, Tensor4* dwd, float* dw)
{
    if (int s = check(xd, dwd, c, dyd)) return s;
    if (int s = usable(algo, ws, bytes)) return s;
    if (int s = run_faults(h, algo)) return s;
    std::vector<double> acc((size_t)dwd->n * dwd->c * dwd->h * dwd->w);
    each_product(xd, dwd, c, dyd, [&](size_t i, size_t k, size_t o) { acc[k] += (double)in(c, dy[o]) * in(c, x[i]); });
    blend(dw, acc, *alpha, *beta);
    return OK;
}
int cudnnConvolutionBackwardBias(void*, const void*, void*, const void*, const void*, void*, void*) { return NOT_SUPPORTED; }

int cudnnDeriveBNTensorDescriptor(void*, void*, int) { return NOT_SUPPORTED; }
int cudnnBatchNormalizationForwardTraining() { return NOT_SUPPORTED; }
int cudnnBatchNormalizationForwardInference() { return NOT_SUPPORTED; }
int cudnnBatchNormalizationBackward() { return NOT_SUPPORTED; }
int cudnnCreatePoolingDescriptor(void**) { return NOT_SUPPORTED; }
int cudnnDestroyPoolingDescriptor(void*) { return NOT_SUPPORTED; }
int cudnnSetPooling2dDescriptor() { return NOT_SUPPORTED; }
int cudnnPoolingForward() { return NOT_SUPPORTED; }
int cudnnPoolingBackward() { return NOT_SUPPORTED; }
}
