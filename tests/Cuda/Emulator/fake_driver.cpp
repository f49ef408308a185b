// A fake libcuda.so.1 for running the C# CUDA backend on the CPU emulator: device memory is host memory,
// streams are synchronous, and cuModuleGetFunction finds the emulated kernel (emu_L_<name>) in the
// libemu_<module>.so files beside this library. Only what the backend calls is provided.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <dirent.h>
#include <string>
#include <vector>

typedef int CUresult;
typedef void (*EmuEntry)(unsigned grid, unsigned block, void** params);
static const size_t kTotal = 1ull << 30;
static std::vector<void*> g_modules;

static void load_modules()
{
    if (!g_modules.empty()) return;
    Dl_info info;
    dladdr((void*)&load_modules, &info);
    std::string dir = info.dli_fname;
    dir = dir.substr(0, dir.rfind('/'));
    if (DIR* d = opendir(dir.c_str()))
    {
        while (dirent* e = readdir(d))
            if (strncmp(e->d_name, "libemu_", 7) == 0)
                if (void* h = dlopen((dir + "/" + e->d_name).c_str(), RTLD_NOW | RTLD_LOCAL)) g_modules.push_back(h);
                else fprintf(stderr, "fake libcuda: %s\n", dlerror());
        closedir(d);
    }
}

extern "C" {
CUresult cuInit(unsigned) { return 0; }
CUresult cuDriverGetVersion(int* v) { *v = 12040; return 0; }
CUresult cuDeviceGet(int* d, int ordinal) { if (ordinal != 0) return 101; *d = 0; return 0; }
CUresult cuDeviceGetCount(int* c) { *c = 1; return 0; }
CUresult cuDeviceGetName(char* name, int len, int) { snprintf(name, len, "CPU emulator (fake libcuda)"); return 0; }
CUresult cuDeviceTotalMem_v2(size_t* b, int) { *b = kTotal; return 0; }
CUresult cuDeviceGetAttribute(int* v, int attribute, int)
{
    *v = attribute == 75 ? 8 : attribute == 76 ? 0 : attribute == 16 ? 1 : 1024;
    return 0;
}
CUresult cuDevicePrimaryCtxRetain(void** c, int) { *c = (void*)0x1; return 0; }
CUresult cuDevicePrimaryCtxRelease_v2(int) { return 0; }
CUresult cuCtxSetCurrent(void*) { return 0; }
CUresult cuCtxGetCurrent(void** c) { *c = (void*)0x1; return 0; }
CUresult cuCtxSynchronize() { return 0; }
CUresult cuMemGetInfo_v2(size_t* f, size_t* t) { *f = kTotal / 2; *t = kTotal; return 0; }
CUresult cuMemAlloc_v2(void** p, size_t n) { if (n > kTotal) return 2; *p = aligned_alloc(256, (n + 255) / 256 * 256); return *p ? 0 : 2; }
CUresult cuMemFree_v2(void* p) { free(p); return 0; }
CUresult cuMemAllocAsync(void** p, size_t n, void*) { return cuMemAlloc_v2(p, n); }
CUresult cuMemFreeAsync(void* p, void*) { free(p); return 0; }
CUresult cuMemAllocHost_v2(void** p, size_t n) { *p = malloc(n); return *p ? 0 : 2; }
CUresult cuMemFreeHost(void* p) { free(p); return 0; }
CUresult cuMemcpyHtoD_v2(void* d, const void* s, size_t n) { memcpy(d, s, n); return 0; }
CUresult cuMemcpyDtoH_v2(void* d, const void* s, size_t n) { memcpy(d, s, n); return 0; }
CUresult cuMemcpyHtoDAsync_v2(void* d, const void* s, size_t n, void*) { memcpy(d, s, n); return 0; }
CUresult cuMemcpyDtoHAsync_v2(void* d, const void* s, size_t n, void*) { memcpy(d, s, n); return 0; }
CUresult cuMemcpyDtoDAsync_v2(void* d, const void* s, size_t n, void*) { memmove(d, s, n); return 0; }
CUresult cuMemsetD32Async(void* d, unsigned v, size_t n, void*) { for (size_t i = 0; i < n; i++) ((unsigned*)d)[i] = v; return 0; }
CUresult cuMemsetD2D32Async(void* d, size_t pitch, unsigned v, size_t width, size_t height, void*)
{
    for (size_t r = 0; r < height; r++)
        for (size_t i = 0; i < width; i++) ((unsigned*)((char*)d + r * pitch))[i] = v;
    return 0;
}
CUresult cuModuleLoadData(void** m, const void* image)
{
    // The backend hands us a real NVRTC CUBIN: check it is one, then resolve kernels by name.
    if (memcmp(image, "\x7f" "ELF", 4) != 0) return 200; // CUDA_ERROR_INVALID_IMAGE
    load_modules();
    *m = (void*)0x2;
    return 0;
}
CUresult cuModuleGetFunction(void** f, void*, const char* name)
{
    load_modules();
    std::string symbol = std::string("emu_L_") + name;
    for (void* h : g_modules)
        if (void* p = dlsym(h, symbol.c_str())) { *f = p; return 0; }
    return 500; // CUDA_ERROR_NOT_FOUND
}
CUresult cuModuleUnload(void*) { return 0; }
CUresult cuFuncSetAttribute(void*, int, int) { return 0; }
CUresult cuLaunchKernel(void* f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                        unsigned shared, void*, void** params, void** extra)
{
    if (gy != 1 || gz != 1 || by != 1 || bz != 1 || shared != 0 || extra != nullptr || bx > 1024 || gx == 0) return 1;
    ((EmuEntry)f)(gx, bx, params);
    return 0;
}
CUresult cuStreamCreate(void** s, unsigned) { *s = malloc(1); return 0; }
CUresult cuStreamDestroy_v2(void* s) { free(s); return 0; }
CUresult cuStreamSynchronize(void*) { return 0; }
CUresult cuStreamWaitEvent(void*, void*, unsigned) { return 0; }
CUresult cuEventCreate(void** e, unsigned) { *e = malloc(1); return 0; }
CUresult cuEventRecord(void*, void*) { return 0; }
CUresult cuEventSynchronize(void*) { return 0; }
CUresult cuEventElapsedTime(float* ms, void*, void*) { *ms = 0; return 0; }
CUresult cuEventDestroy_v2(void* e) { free(e); return 0; }
CUresult cuGetErrorName(CUresult e, const char** s)
{
    *s = e == 0 ? "CUDA_SUCCESS" : e == 2 ? "CUDA_ERROR_OUT_OF_MEMORY" : e == 500 ? "CUDA_ERROR_NOT_FOUND" : "CUDA_ERROR_UNKNOWN";
    return 0;
}
CUresult cuGetErrorString(CUresult e, const char** s) { return cuGetErrorName(e, s); }
}
