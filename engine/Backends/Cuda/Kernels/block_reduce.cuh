// Deterministic warp and block sums shared by the kernel modules (included by batchnorm.cu, optimizers.cu,
// reductions.cu, and losses.cu for warp_sum): a fixed warp-shuffle tree, then one warp over the per-warp partials.
#pragma once

__device__ __forceinline__ float warp_sum(float v)
{
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_down_sync(0xffffffffu, v, offset);
    return v;
}

// Sum over the block; the result is valid in every thread. blockDim.x must be a multiple of 32.
__device__ float block_sum(float v)
{
    __shared__ float partial[32];
    __shared__ float total;
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    v = warp_sum(v);
    if (lane == 0) partial[warp] = v;
    __syncthreads();
    if (warp == 0)
    {
        v = threadIdx.x < (blockDim.x >> 5) ? partial[lane] : 0.0f;
        v = warp_sum(v);
        if (lane == 0) total = v;
    }
    __syncthreads();
    float result = total;
    __syncthreads(); // the shared slots may be reused by the next call
    return result;
}
