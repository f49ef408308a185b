// Row-wise softmax cross-entropy of logits [n, k] against Int32 labels [n]. One block (256 threads) per row.
// The mean over rows is a second launch (reductions.cu's sum_scaled_f32 over rowLoss), so it stays deterministic.

typedef long long i64;

#include "block_reduce.cuh"

__device__ __forceinline__ float warp_max(float v)
{
    for (int offset = 16; offset > 0; offset >>= 1) v = fmaxf(v, __shfl_down_sync(0xffffffffu, v, offset));
    return v;
}

__device__ float block_reduce(float v, bool isMax)
{
    __shared__ float partial[32];
    __shared__ float total;
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    v = isMax ? warp_max(v) : warp_sum(v);
    if (lane == 0) partial[warp] = v;
    __syncthreads();
    if (warp == 0)
    {
        float neutral = isMax ? __int_as_float(0xff800000) : 0.0f;
        v = threadIdx.x < (blockDim.x >> 5) ? partial[lane] : neutral;
        v = isMax ? warp_max(v) : warp_sum(v);
        if (lane == 0) total = v;
    }
    __syncthreads();
    float result = total;
    __syncthreads();
    return result;
}

// probabilities = softmax(logits) per row; rowLoss[r] = log(sum exp(x - max)) + max - x[label]
// (NaN when the label is out of range, so a bad label cannot pass unnoticed).
extern "C" __global__ void softmax_xent_forward_f32(const float* __restrict__ logits, const int* __restrict__ labels,
    float* __restrict__ probabilities, float* __restrict__ rowLoss, int classes)
{
    i64 r = blockIdx.x;
    const float* row = logits + r * classes;
    float* out = probabilities + r * classes;
    float m = __int_as_float(0xff800000);
    for (int j = threadIdx.x; j < classes; j += blockDim.x) m = fmaxf(m, row[j]);
    m = block_reduce(m, true);
    float s = 0.0f;
    for (int j = threadIdx.x; j < classes; j += blockDim.x) s += expf(row[j] - m);
    s = block_reduce(s, false);
    float inverse = 1.0f / s;
    for (int j = threadIdx.x; j < classes; j += blockDim.x) out[j] = expf(row[j] - m) * inverse;
    if (threadIdx.x == 0)
    {
        int label = labels[r];
        rowLoss[r] = label >= 0 && label < classes ? logf(s) + m - row[label] : __int_as_float(0x7fc00000);
    }
}

// dlogits = scale * (probabilities - onehot(labels))
extern "C" __global__ void softmax_xent_backward_f32(const float* __restrict__ probabilities, const int* __restrict__ labels,
    float* __restrict__ dlogits, i64 n, int classes, float scale)
{
    for (i64 j = blockIdx.x * (i64)blockDim.x + threadIdx.x; j < n; j += (i64)gridDim.x * blockDim.x)
    {
        int c = (int)(j % classes);
        float hot = labels[j / classes] == c ? 1.0f : 0.0f;
        dlogits[j] = scale * (probabilities[j] - hot);
    }
}
