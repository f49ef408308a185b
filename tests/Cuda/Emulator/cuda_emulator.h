// A CPU emulation of the CUDA execution model, just enough to run our .cu kernels unchanged on a machine
// without a GPU: a block's threads are real std::threads (so __syncthreads is a real barrier), blocks run one
// after another (so a function-local "static" stands in for __shared__), and warp shuffles go through a
// per-warp exchange buffer. Slow, and only for checking the kernels' logic against PyTorch at small sizes.
#pragma once
#include <algorithm>
#include <barrier>
#include <cmath>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

struct emu_dim3 { unsigned x = 1, y = 1, z = 1; };
inline thread_local emu_dim3 threadIdx;
inline thread_local emu_dim3 blockIdx;
inline emu_dim3 blockDim;
inline emu_dim3 gridDim;

#define __global__
#define __device__
#define __forceinline__ inline
#define __restrict__
#define __shared__ static

inline std::unique_ptr<std::barrier<>> emu_block_barrier;
inline std::vector<std::unique_ptr<std::barrier<>>> emu_warp_barriers;
inline float emu_exchange[1024];

inline void __syncthreads() { emu_block_barrier->arrive_and_wait(); }

inline float __shfl_down_sync(unsigned, float v, int offset)
{
    unsigned t = threadIdx.x, lane = t & 31, warp = t >> 5;
    emu_exchange[t] = v;
    emu_warp_barriers[warp]->arrive_and_wait();
    float r = lane + offset < 32 ? emu_exchange[t + offset] : v;
    emu_warp_barriers[warp]->arrive_and_wait();
    return r;
}

inline float __int_as_float(int i) { float f; std::memcpy(&f, &i, 4); return f; }
inline float __int_as_float(unsigned i) { float f; std::memcpy(&f, &i, 4); return f; }
using std::min;
using std::max;
using std::expf; using std::logf; using std::sqrtf; using std::fmaxf;

template <typename... A, typename... B>
void emu_launch(void (*kernel)(A...), unsigned grid, unsigned block, B... args)
{
    gridDim = {grid, 1, 1};
    blockDim = {block, 1, 1};
    emu_block_barrier = std::make_unique<std::barrier<>>(block);
    emu_warp_barriers.clear();
    for (unsigned w = 0; w < (block + 31) / 32; w++) emu_warp_barriers.push_back(std::make_unique<std::barrier<>>(32));
    for (unsigned b = 0; b < grid; b++)
    {
        std::vector<std::thread> threads;
        for (unsigned t = 0; t < block; t++)
            threads.emplace_back([=] { blockIdx = {b, 1, 1}; threadIdx = {t, 1, 1}; kernel(static_cast<A>(args)...); });
        for (auto& th : threads) th.join();
    }
}
