// Batch normalization over x read as [outer=N, channels=C, inner=H*W], as PyTorch's BatchNorm1d/2d:
// batch statistics with the biased variance; running statistics updated with the unbiased variance.
// Statistics are two-pass (mean, then squared deviations), each a two-stage deterministic sum.

typedef long long i64;

#include "block_reduce.cuh"

__device__ __forceinline__ i64 channel_index(i64 j, int c, int channels, int inner)
{
    i64 o = j / inner, i = j % inner;
    return (o * channels + c) * inner + i;
}

// Statistics are two-stage sums, so that a channel with many elements is spread over several blocks:
// block b handles split s = b % splits of channel c = b / splits and writes one partial; a per-channel
// finishing kernel adds the partials in order. Deterministic for a given shape.

// partials[c*splits + s] = sum of x (mean == null) or of (x - mean[c])^2 over split s of channel c.
extern "C" __global__ void bn_partial_f32(const float* __restrict__ x, int outer, int channels, int inner, int splits,
    const float* __restrict__ mean, float* __restrict__ partials)
{
    int c = blockIdx.x / splits, s = blockIdx.x % splits;
    i64 count = (i64)outer * inner;
    float m = mean != 0 ? mean[c] : 0.0f;
    float acc = 0.0f;
    for (i64 j = (i64)s * blockDim.x + threadIdx.x; j < count; j += (i64)splits * blockDim.x)
    {
        float v = x[channel_index(j, c, channels, inner)];
        if (mean != 0) { v -= m; v *= v; }
        acc += v;
    }
    acc = block_sum(acc);
    if (threadIdx.x == 0) partials[blockIdx.x] = acc;
}

// mean[c] = (sum of the channel's partials) / count; one thread per channel.
extern "C" __global__ void bn_mean_f32(const float* __restrict__ partials, int channels, int splits, float inverseCount, float* __restrict__ mean)
{
    for (int c = blockIdx.x * blockDim.x + threadIdx.x; c < channels; c += gridDim.x * blockDim.x)
    {
        float s = 0.0f;
        for (int k = 0; k < splits; k++) s += partials[c * splits + k];
        mean[c] = s * inverseCount;
    }
}

// From the squared-deviation partials: invstd[c] = 1/sqrt(var + eps) (biased var); when runningMean is not
// null, running = (1 - momentum) running + momentum * batch with the unbiased variance, as PyTorch.
extern "C" __global__ void bn_finalize_f32(const float* __restrict__ partials, int channels, int splits, long long count,
    const float* __restrict__ mean, float* __restrict__ invstd, float* runningMean, float* runningVar, float momentum, float eps)
{
    for (int c = blockIdx.x * blockDim.x + threadIdx.x; c < channels; c += gridDim.x * blockDim.x)
    {
        float q = 0.0f;
        for (int k = 0; k < splits; k++) q += partials[c * splits + k];
        float var = q / (float)count;
        invstd[c] = 1.0f / sqrtf(var + eps);
        if (runningMean != 0)
        {
            float unbiased = count > 1 ? q / (float)(count - 1) : var;
            runningMean[c] = (1.0f - momentum) * runningMean[c] + momentum * mean[c];
            runningVar[c] = (1.0f - momentum) * runningVar[c] + momentum * unbiased;
        }
    }
}

// y = (x - mean[c]) * invstd[c] * gamma[c] + beta[c]; gamma / beta may be null (1 and 0).
extern "C" __global__ void bn_normalize_f32(const float* x, float* y, i64 n, int channels, int inner,
    const float* __restrict__ mean, const float* __restrict__ invstd, const float* __restrict__ gamma, const float* __restrict__ beta)
{
    for (i64 j = blockIdx.x * (i64)blockDim.x + threadIdx.x; j < n; j += (i64)gridDim.x * blockDim.x)
    {
        int c = (int)((j / inner) % channels);
        float g = gamma != 0 ? gamma[c] : 1.0f;
        float b = beta != 0 ? beta[c] : 0.0f;
        y[j] = (x[j] - mean[c]) * invstd[c] * g + b;
    }
}

// Inference: y = (x - runningMean[c]) / sqrt(runningVar[c] + eps) * gamma[c] + beta[c].
extern "C" __global__ void bn_inference_f32(const float* x, float* y, i64 n, int channels, int inner,
    const float* __restrict__ runningMean, const float* __restrict__ runningVar, const float* __restrict__ gamma,
    const float* __restrict__ beta, float eps)
{
    for (i64 j = blockIdx.x * (i64)blockDim.x + threadIdx.x; j < n; j += (i64)gridDim.x * blockDim.x)
    {
        int c = (int)((j / inner) % channels);
        float g = gamma != 0 ? gamma[c] : 1.0f;
        float b = beta != 0 ? beta[c] : 0.0f;
        y[j] = (x[j] - runningMean[c]) / sqrtf(runningVar[c] + eps) * g + b;
    }
}

// partials[c*splits + s] = sum(dy) and partials[channels*splits + c*splits + s] = sum(dy * xhat) over split s of channel c.
extern "C" __global__ void bn_backward_partial_f32(const float* __restrict__ x, const float* __restrict__ dy, int outer, int channels, int inner,
    int splits, const float* __restrict__ mean, const float* __restrict__ invstd, float* __restrict__ partials)
{
    int c = blockIdx.x / splits, s = blockIdx.x % splits;
    i64 count = (i64)outer * inner;
    float m = mean[c], r = invstd[c];
    float sdy = 0.0f, sdyx = 0.0f;
    for (i64 j = (i64)s * blockDim.x + threadIdx.x; j < count; j += (i64)splits * blockDim.x)
    {
        i64 k = channel_index(j, c, channels, inner);
        float g = dy[k];
        sdy += g;
        sdyx += g * (x[k] - m) * r;
    }
    sdy = block_sum(sdy);
    sdyx = block_sum(sdyx);
    if (threadIdx.x == 0)
    {
        partials[blockIdx.x] = sdy;
        partials[channels * splits + blockIdx.x] = sdyx;
    }
}

// sums[c] = sum(dy), sums[C + c] = sum(dy * xhat); also dbeta / dgamma when not null. One thread per channel.
extern "C" __global__ void bn_backward_finalize_f32(const float* __restrict__ partials, int channels, int splits,
    float* __restrict__ sums, float* dgamma, float* dbeta)
{
    for (int c = blockIdx.x * blockDim.x + threadIdx.x; c < channels; c += gridDim.x * blockDim.x)
    {
        float sdy = 0.0f, sdyx = 0.0f;
        for (int k = 0; k < splits; k++)
        {
            sdy += partials[c * splits + k];
            sdyx += partials[channels * splits + c * splits + k];
        }
        sums[c] = sdy;
        sums[channels + c] = sdyx;
        if (dbeta != 0) dbeta[c] = sdy;
        if (dgamma != 0) dgamma[c] = sdyx;
    }
}

// dx = gamma * invstd * (dy - sum(dy)/M - xhat * sum(dy*xhat)/M), M = outer*inner.
extern "C" __global__ void bn_backward_data_f32(const float* x, const float* dy, float* dx, i64 n, int channels, int inner, float inverseCount,
    const float* __restrict__ mean, const float* __restrict__ invstd, const float* __restrict__ gamma, const float* __restrict__ sums)
{
    for (i64 j = blockIdx.x * (i64)blockDim.x + threadIdx.x; j < n; j += (i64)gridDim.x * blockDim.x)
    {
        int c = (int)((j / inner) % channels);
        float r = invstd[c];
        float g = gamma != 0 ? gamma[c] : 1.0f;
        float xhat = (x[j] - mean[c]) * r;
        dx[j] = g * r * (dy[j] - sums[c] * inverseCount - xhat * sums[channels + c] * inverseCount);
    }
}
