// A fake libcuda.so.1 for running the C# CUDA backend on the CPU emulator: device memory is host memory, and
// cuModuleGetFunction finds the emulated kernel (emu_L_<name>) in the libemu_<module>.so files beside this library.
// Only what the backend calls is provided.
//
// Streams: kernels (and cuBLAS/cuDNN calls, through emu_stream_flush) run when they are issued, but asynchronous copies
// and memsets are queued on their stream and run only when that stream is next used, synchronised, or waited on through
// an event. Work on two streams is therefore unordered unless the backend orders it, as on a GPU: a missing
// cuStreamWaitEvent shows up as stale data. cuMemFree_v2 of a block that queued work still touches is an error
// (CUDA_ERROR_ILLEGAL_ADDRESS), which catches returning memory to the driver before the queue has drained.
//
// Faults for the tests (emu_inject): device memory limit, allocations from a size up failing with out-of-memory,
// the compute capability reported (to drive NVRTC's PTX path), and the next cuStreamSynchronize reporting an error
// (as a faulting kernel would).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <dirent.h>
#include <map>
#include <mutex>
#include <string>
#include <vector>

typedef int CUresult;
typedef int (*EmuEntry)(unsigned grid, unsigned block, void** params); // nonzero: the kernel trapped
static const size_t kTotal = 1ull << 30;
static std::vector<void*> g_modules;
static std::recursive_mutex g_lock;

static size_t g_memory_limit = kTotal, g_oom_at_least = 0, g_used = 0;
static int g_architecture = 80, g_fail_next_sync = 0;
static std::map<char*, size_t> g_device, g_pinned;

extern "C" void emu_inject(const char* fault, long long value)
{
    std::string f = fault;
    if (f == "memory_limit") g_memory_limit = value > 0 ? (size_t)value : kTotal;
    else if (f == "oom_at_least") g_oom_at_least = (size_t)value;
    else if (f == "architecture") g_architecture = value > 0 ? (int)value : 80;
    else if (f == "fail_next_sync") g_fail_next_sync = (int)value;
    else { fprintf(stderr, "fake libcuda: unknown fault %s\n", fault); abort(); }
}

// One queued copy or memset. A copy from pageable host memory is staged (snapshotted) when issued, as the driver does;
// one from pinned memory reads the host buffer when it runs.
struct Op { int kind; char* dst; const char* src; size_t n; unsigned value; unsigned long long seq; std::vector<char> staged; };
enum { CopyIn, CopyOut, CopyDevice, Set32 };
struct Stream;
struct Event { Stream* stream = nullptr; unsigned long long seq = 0; };
struct Stream { std::vector<Op> queue; std::vector<Event> waits; }; // waits: events its later work depends on
static unsigned long long g_seq = 0;
static std::vector<Stream*> g_streams;

static bool in(const std::map<char*, size_t>& blocks, const void* p)
{
    auto it = blocks.upper_bound((char*)p);
    if (it == blocks.begin()) return false;
    --it;
    return (const char*)p < it->first + it->second;
}

static void run(Op& op)
{
    switch (op.kind)
    {
    case CopyIn: memcpy(op.dst, op.staged.empty() ? op.src : op.staged.data(), op.n); break;
    case CopyOut: memcpy(op.dst, op.src, op.n); break;
    case CopyDevice: memmove(op.dst, op.src, op.n); break;
    case Set32: for (size_t i = 0; i < op.n; i++) ((unsigned*)op.dst)[i] = op.value; break;
    }
}

static void flush(Stream* s, unsigned long long upto = ~0ull)
{
    std::lock_guard<std::recursive_mutex> lock(g_lock);
    if (!s) { for (Stream* each : g_streams) flush(each); return; }
    std::vector<Event> waits;
    waits.swap(s->waits);
    for (const Event& e : waits) flush(e.stream, e.seq);
    size_t done = 0;
    while (done < s->queue.size() && s->queue[done].seq <= upto) run(s->queue[done++]);
    s->queue.erase(s->queue.begin(), s->queue.begin() + done);
}

static CUresult enqueue(void* stream, Op op)
{
    std::lock_guard<std::recursive_mutex> lock(g_lock);
    op.seq = ++g_seq;
    if (!stream) { run(op); return 0; } // the legacy default stream: synchronous here
    ((Stream*)stream)->queue.push_back(std::move(op));
    return 0;
}

static bool queued_work_touches(const char* p, size_t n)
{
    for (Stream* s : g_streams)
        for (const Op& op : s->queue)
        {
            size_t len = op.kind == Set32 ? op.n * 4 : op.n;
            bool dst = op.dst < p + n && p < op.dst + len;
            bool src = op.kind != Set32 && op.staged.empty() && op.src < p + n && p < op.src + len;
            if (dst || src) return true;
        }
    return false;
}

// cuBLAS and cuDNN fakes call this before working on a stream: its queued copies come first, in stream order.
extern "C" void emu_stream_flush(void* stream) { flush((Stream*)stream); }

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

struct Module { bool ptx; std::string text; };

extern "C" {
CUresult cuInit(unsigned) { return 0; }
CUresult cuDriverGetVersion(int* v) { *v = 12040; return 0; }
CUresult cuDeviceGet(int* d, int ordinal) { if (ordinal != 0) return 101; *d = 0; return 0; }
CUresult cuDeviceGetCount(int* c) { *c = 1; return 0; }
CUresult cuDeviceGetName(char* name, int len, int) { snprintf(name, len, "CPU emulator (fake libcuda)"); return 0; }
CUresult cuDeviceTotalMem_v2(size_t* b, int) { *b = g_memory_limit; return 0; }
CUresult cuDeviceGetAttribute(int* v, int attribute, int)
{
    *v = attribute == 75 ? g_architecture / 10 : attribute == 76 ? g_architecture % 10 : attribute == 16 ? 1 : 1024;
    return 0;
}
CUresult cuDevicePrimaryCtxRetain(void** c, int) { *c = (void*)0x1; return 0; }
CUresult cuDevicePrimaryCtxRelease_v2(int) { return 0; }
static unsigned g_context_flags = 0;
CUresult cuDevicePrimaryCtxSetFlags_v2(int, unsigned flags) { if (flags & ~0x1fu) return 1; g_context_flags = flags; return 0; }
CUresult cuDevicePrimaryCtxGetState(int, unsigned* flags, int* active) { *flags = g_context_flags; *active = 1; return 0; }
CUresult cuCtxSetCurrent(void*) { return 0; }
CUresult cuCtxGetCurrent(void** c) { *c = (void*)0x1; return 0; }
CUresult cuCtxSynchronize() { flush(nullptr); return 0; }
CUresult cuMemGetInfo_v2(size_t* f, size_t* t)
{
    std::lock_guard<std::recursive_mutex> lock(g_lock);
    *f = g_memory_limit > g_used ? g_memory_limit - g_used : 0;
    *t = g_memory_limit;
    return 0;
}
CUresult cuMemAlloc_v2(void** p, size_t n)
{
    std::lock_guard<std::recursive_mutex> lock(g_lock);
    if (n == 0) return 1; // CUDA_ERROR_INVALID_VALUE
    if (g_used + n > g_memory_limit || (g_oom_at_least && n >= g_oom_at_least)) return 2; // CUDA_ERROR_OUT_OF_MEMORY
    *p = aligned_alloc(256, (n + 255) / 256 * 256);
    if (!*p) return 2;
    g_device[(char*)*p] = n;
    g_used += n;
    return 0;
}
CUresult cuMemFree_v2(void* p)
{
    std::lock_guard<std::recursive_mutex> lock(g_lock);
    auto it = g_device.find((char*)p);
    if (it == g_device.end()) return 1;
    if (queued_work_touches((char*)p, it->second))
    {
        fprintf(stderr, "fake libcuda: cuMemFree_v2 of a block that queued work still uses\n");
        return 700; // CUDA_ERROR_ILLEGAL_ADDRESS: on a GPU, the block could be handed out and overwritten mid-copy
    }
    g_used -= it->second;
    g_device.erase(it);
    free(p);
    return 0;
}
CUresult cuMemAllocAsync(void** p, size_t n, void*) { return cuMemAlloc_v2(p, n); }
CUresult cuMemFreeAsync(void* p, void*) { return cuMemFree_v2(p); }
CUresult cuMemAllocHost_v2(void** p, size_t n)
{
    std::lock_guard<std::recursive_mutex> lock(g_lock);
    *p = malloc(n);
    if (!*p) return 2;
    g_pinned[(char*)*p] = n;
    return 0;
}
CUresult cuMemFreeHost(void* p)
{
    std::lock_guard<std::recursive_mutex> lock(g_lock);
    auto it = g_pinned.find((char*)p);
    if (it == g_pinned.end()) return 1;
    if (queued_work_touches((char*)p, it->second)) { fprintf(stderr, "fake libcuda: cuMemFreeHost of a buffer queued work still reads\n"); return 700; }
    g_pinned.erase(it);
    free(p);
    return 0;
}
CUresult cuMemcpyHtoD_v2(void* d, const void* s, size_t n) { flush(nullptr); memcpy(d, s, n); return 0; }
CUresult cuMemcpyDtoH_v2(void* d, const void* s, size_t n) { flush(nullptr); memcpy(d, s, n); return 0; }
CUresult cuMemcpyHtoDAsync_v2(void* d, const void* s, size_t n, void* stream)
{
    Op op{CopyIn, (char*)d, (const char*)s, n, 0, 0, {}};
    if (!in(g_pinned, s)) op.staged.assign((const char*)s, (const char*)s + n);
    return enqueue(stream, std::move(op));
}
CUresult cuMemcpyDtoHAsync_v2(void* d, const void* s, size_t n, void* stream) { return enqueue(stream, Op{CopyOut, (char*)d, (const char*)s, n, 0, 0, {}}); }
CUresult cuMemcpyDtoDAsync_v2(void* d, const void* s, size_t n, void* stream) { return enqueue(stream, Op{CopyDevice, (char*)d, (const char*)s, n, 0, 0, {}}); }
CUresult cuMemsetD32Async(void* d, unsigned v, size_t n, void* stream) { return enqueue(stream, Op{Set32, (char*)d, nullptr, n, v, 0, {}}); }
// A pitched 2-D memset is queued as one row memset each, so it stays ordered on its stream like the 1-D one.
CUresult cuMemsetD2D32Async(void* d, size_t pitch, unsigned v, size_t width, size_t height, void* stream)
{
    for (size_t r = 0; r < height; r++)
        if (CUresult status = enqueue(stream, Op{Set32, (char*)d + r * pitch, nullptr, width, v, 0, {}})) return status;
    return 0;
}
CUresult cuModuleLoadData(void** m, const void* image)
{
    // The backend hands us a real NVRTC CUBIN, or PTX text for the driver to JIT. A CUBIN must be ELF; PTX must target
    // an architecture the device can run (its compute capability or older) and is kept to check kernel names against.
    const char* text = (const char*)image;
    if (memcmp(image, "\x7f" "ELF", 4) == 0) *m = new Module{false, {}};
    else
    {
        const char* target = strstr(text, "\n.target sm_");
        if (!strstr(text, "\n.version ") || !target) return 200; // CUDA_ERROR_INVALID_IMAGE
        if (atoi(target + 12) > g_architecture) return 222;   // CUDA_ERROR_UNSUPPORTED_PTX_VERSION
        *m = new Module{true, text};
    }
    load_modules();
    return 0;
}
CUresult cuModuleGetFunction(void** f, void* module, const char* name)
{
    load_modules();
    auto* m = (Module*)module;
    if (m->ptx && m->text.find(std::string(".entry ") + name + "(") == std::string::npos) return 500;
    std::string symbol = std::string("emu_L_") + name;
    for (void* h : g_modules)
        if (void* p = dlsym(h, symbol.c_str())) { *f = p; return 0; }
    return 500; // CUDA_ERROR_NOT_FOUND
}
CUresult cuModuleUnload(void* m) { delete (Module*)m; return 0; }
CUresult cuFuncSetAttribute(void*, int, int) { return 0; }
CUresult cuLaunchKernel(void* f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                        unsigned shared, void* stream, void** params, void** extra)
{
    if (gy != 1 || gz != 1 || by != 1 || bz != 1 || shared != 0 || extra != nullptr || bx > 1024 || gx == 0) return 1;
    flush((Stream*)stream);
    std::lock_guard<std::recursive_mutex> lock(g_lock); // the emulator runs one kernel at a time
    if (((EmuEntry)f)(gx, bx, params)) g_fail_next_sync = 719; // CUDA_ERROR_LAUNCH_FAILED, sticky until the next sync
    return 0;
}
CUresult cuStreamCreate(void** s, unsigned)
{
    std::lock_guard<std::recursive_mutex> lock(g_lock);
    g_streams.push_back(new Stream());
    *s = g_streams.back();
    return 0;
}
CUresult cuStreamDestroy_v2(void* s)
{
    std::lock_guard<std::recursive_mutex> lock(g_lock);
    flush((Stream*)s);
    for (size_t i = 0; i < g_streams.size(); i++) if (g_streams[i] == s) g_streams.erase(g_streams.begin() + i);
    delete (Stream*)s;
    return 0;
}
CUresult cuStreamSynchronize(void* s)
{
    flush((Stream*)s);
    int status = g_fail_next_sync;
    g_fail_next_sync = 0;
    return status;
}
CUresult cuEventCreate(void** e, unsigned) { *e = new Event(); return 0; }
CUresult cuEventRecord(void* e, void* s)
{
    std::lock_guard<std::recursive_mutex> lock(g_lock);
    *(Event*)e = Event{(Stream*)s, g_seq};
    return 0;
}
// A stream that waits on an event completes, before its own later work, what the event's stream had queued when the
// event was recorded; until then that work stays queued (so memory it touches must not go back to the driver).
CUresult cuStreamWaitEvent(void* s, void* e, unsigned)
{
    std::lock_guard<std::recursive_mutex> lock(g_lock);
    auto* ev = (Event*)e;
    if (!ev->stream) return 0;
    if (s) ((Stream*)s)->waits.push_back(*ev);
    else flush(ev->stream, ev->seq);
    return 0;
}
CUresult cuEventSynchronize(void* e) { return cuStreamWaitEvent(nullptr, e, 0); }
CUresult cuEventElapsedTime(float* ms, void*, void*) { *ms = 0; return 0; }
CUresult cuEventDestroy_v2(void* e) { delete (Event*)e; return 0; }
CUresult cuGetErrorName(CUresult e, const char** s)
{
    *s = e == 0 ? "CUDA_SUCCESS" : e == 2 ? "CUDA_ERROR_OUT_OF_MEMORY" : e == 500 ? "CUDA_ERROR_NOT_FOUND" : e == 700 ? "CUDA_ERROR_ILLEGAL_ADDRESS" : e == 719 ? "CUDA_ERROR_LAUNCH_FAILED"
       : e == 200 ? "CUDA_ERROR_INVALID_IMAGE" : e == 222 ? "CUDA_ERROR_UNSUPPORTED_PTX_VERSION" : "CUDA_ERROR_UNKNOWN";
    return 0;
}
CUresult cuGetErrorString(CUresult e, const char** s) { return cuGetErrorName(e, s); }
}
