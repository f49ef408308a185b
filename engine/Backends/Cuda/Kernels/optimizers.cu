// Fused optimizer updates, in place. LARS follows the official VICReg code:
//   g' = g + wd w;  q = eta ||w|| / ||g'|| when both norms are positive, else 1;  g' *= q
//   m = momentum m + g';  w -= lr m
// The norms are two-stage block reductions (lars_norms_partial_f32, then every block of lars_update_f32
// re-reduces the same partials in the same order), so they are deterministic and need no host round trip.

typedef long long i64;

#include "block_reduce.cuh"

// SGD with momentum: g' = g + wd w; m = momentum m + g'; w -= lr m
extern "C" __global__ void sgd_update_f32(float* __restrict__ w, const float* __restrict__ g, float* __restrict__ m, i64 n,
    float lr, float weightDecay, float momentum)
{
    for (i64 i = blockIdx.x * (i64)blockDim.x + threadIdx.x; i < n; i += (i64)gridDim.x * blockDim.x)
    {
        float gi = g[i] + weightDecay * w[i];
        float mi = momentum * m[i] + gi;
        m[i] = mi;
        w[i] -= lr * mi;
    }
}

// partials[b] = sum w^2, partials[gridDim.x + b] = sum (g + wd w)^2 over block b's grid-stride share.
extern "C" __global__ void lars_norms_partial_f32(const float* __restrict__ w, const float* __restrict__ g, i64 n, float weightDecay,
    float* __restrict__ partials)
{
    float sw = 0.0f, sg = 0.0f;
    for (i64 i = blockIdx.x * (i64)blockDim.x + threadIdx.x; i < n; i += (i64)gridDim.x * blockDim.x)
    {
        float wi = w[i];
        float gi = g[i] + weightDecay * wi;
        sw += wi * wi;
        sg += gi * gi;
    }
    sw = block_sum(sw);
    sg = block_sum(sg);
    if (threadIdx.x == 0)
    {
        partials[blockIdx.x] = sw;
        partials[gridDim.x + blockIdx.x] = sg;
    }
}

// adapt != 0: partials holds 2*partialCount sums from lars_norms_partial_f32 (partialCount <= blockDim.x).
extern "C" __global__ void lars_update_f32(float* __restrict__ w, const float* __restrict__ g, float* __restrict__ m, i64 n,
    const float* __restrict__ partials, int partialCount, float lr, float weightDecay, float momentum, float eta, int adapt)
{
    float q = 1.0f, wd = 0.0f;
    if (adapt)
    {
        wd = weightDecay;
        float sw = threadIdx.x < partialCount ? partials[threadIdx.x] : 0.0f;
        float sg = threadIdx.x < partialCount ? partials[partialCount + threadIdx.x] : 0.0f;
        float weightNorm = sqrtf(block_sum(sw));
        float updateNorm = sqrtf(block_sum(sg));
        if (weightNorm > 0.0f && updateNorm > 0.0f) q = eta * weightNorm / updateNorm;
    }
    for (i64 i = blockIdx.x * (i64)blockDim.x + threadIdx.x; i < n; i += (i64)gridDim.x * blockDim.x)
    {
        float gi = (g[i] + wd * w[i]) * q;
        float mi = momentum * m[i] + gi;
        m[i] = mi;
        w[i] -= lr * mi;
    }
}
