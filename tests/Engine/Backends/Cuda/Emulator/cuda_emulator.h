// A CPU emulation of the CUDA execution model, just enough to run our .cu kernels unchanged on a machine
// without a GPU. One OS thread; a block's threads are fibers (ucontext) run round-robin by a scheduler that
// implements __syncthreads (all threads of the block wait) and the warp shuffles (all 32 lanes of the warp
// wait) as real barriers. Blocks run one after another, so a function-local "static" stands in for __shared__.
// Slow, and only for checking the kernels' logic at small sizes.
#pragma once
#include <algorithm>
#include <cmath>
#include <math.h> // expf, logf, sqrtf, fmaxf in the global namespace, as CUDA has them
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <tuple>
#include <ucontext.h>
#include <vector>

struct emu_dim3 { unsigned x = 1, y = 1, z = 1; };
inline emu_dim3 threadIdx, blockIdx, blockDim, gridDim; // threadIdx is switched with the running fiber

#define __global__
#define __device__
#define __forceinline__ inline
#define __restrict__
#define __shared__ static

enum emu_state { emu_runnable, emu_at_block_barrier, emu_at_warp_barrier, emu_finished };
struct emu_fiber { ucontext_t context; emu_state state; std::vector<char> stack; };
inline std::vector<emu_fiber> emu_fibers;
inline ucontext_t emu_scheduler;
inline unsigned emu_current;
inline float emu_exchange[1024];

inline void emu_wait(emu_state reason)
{
    emu_fibers[emu_current].state = reason;
    swapcontext(&emu_fibers[emu_current].context, &emu_scheduler);
}

inline void __syncthreads() { emu_wait(emu_at_block_barrier); }

inline float __shfl_down_sync(unsigned, float v, int offset)
{
    unsigned t = threadIdx.x, lane = t & 31;
    emu_exchange[t] = v;
    emu_wait(emu_at_warp_barrier);
    float r = lane + offset < 32 ? emu_exchange[t + offset] : v;
    emu_wait(emu_at_warp_barrier); // nobody overwrites a slot before every lane has read
    return r;
}

// __trap ends the kernel with an error on a GPU; here it marks the launch as failed (the driver reports
// CUDA_ERROR_LAUNCH_FAILED at the next synchronisation, as a GPU would) and the thread carries on.
inline bool emu_trapped;
inline void __trap() { emu_trapped = true; }

inline float __int_as_float(int i) { float f; std::memcpy(&f, &i, 4); return f; }
inline float __int_as_float(unsigned i) { float f; std::memcpy(&f, &i, 4); return f; }
using std::min;
using std::max;

inline void (*emu_body)(void*);
inline void* emu_body_arg;
inline void emu_fiber_main()
{
    emu_body(emu_body_arg);
    emu_fibers[emu_current].state = emu_finished;
    swapcontext(&emu_fibers[emu_current].context, &emu_scheduler);
}

/// Runs one block: every thread until all finish, releasing barriers when everyone they wait for has arrived.
inline void emu_run_block(unsigned block)
{
    const size_t stackBytes = 256 * 1024;
    if (emu_fibers.size() < block) emu_fibers.resize(block);
    for (unsigned t = 0; t < block; t++)
    {
        auto& f = emu_fibers[t];
        if (f.stack.size() != stackBytes) f.stack.resize(stackBytes);
        getcontext(&f.context);
        f.context.uc_stack.ss_sp = f.stack.data();
        f.context.uc_stack.ss_size = stackBytes;
        f.context.uc_link = nullptr;
        makecontext(&f.context, emu_fiber_main, 0);
        f.state = emu_runnable;
    }
    for (;;)
    {
        bool ran = false;
        for (unsigned t = 0; t < block; t++)
        {
            if (emu_fibers[t].state != emu_runnable) continue;
            emu_current = t;
            threadIdx = {t, 1, 1};
            swapcontext(&emu_scheduler, &emu_fibers[t].context);
            ran = true;
        }
        if (ran) continue;
        unsigned finished = 0, atBlock = 0;
        bool released = false;
        for (unsigned w = 0; w * 32 < block; w++)
        {
            bool all = true;
            for (unsigned t = w * 32; t < std::min(block, w * 32 + 32); t++) all &= emu_fibers[t].state == emu_at_warp_barrier;
            if (all) { for (unsigned t = w * 32; t < std::min(block, w * 32 + 32); t++) emu_fibers[t].state = emu_runnable; released = true; }
        }
        if (released) continue;
        for (unsigned t = 0; t < block; t++)
        {
            finished += emu_fibers[t].state == emu_finished;
            atBlock += emu_fibers[t].state == emu_at_block_barrier;
        }
        if (finished == block) return;
        if (atBlock + finished == block && finished == 0)
        {
            for (unsigned t = 0; t < block; t++) emu_fibers[t].state = emu_runnable;
            continue;
        }
        fprintf(stderr, "cuda emulator: deadlock in block %u (%u finished, %u at __syncthreads, rest at warp barriers)\n",
                blockIdx.x, finished, atBlock);
        abort();
    }
}

template <typename... A, typename... B>
void emu_launch(void (*kernel)(A...), unsigned grid, unsigned block, B... args)
{
    gridDim = {grid, 1, 1};
    blockDim = {block, 1, 1};
    struct Call { void (*kernel)(A...); std::tuple<A...> args; } call{kernel, std::tuple<A...>(static_cast<A>(args)...)};
    emu_body = [](void* p) { auto* c = static_cast<Call*>(p); std::apply(c->kernel, c->args); };
    emu_body_arg = &call;
    for (unsigned b = 0; b < grid; b++)
    {
        blockIdx = {b, 1, 1};
        emu_run_block(block);
    }
}
