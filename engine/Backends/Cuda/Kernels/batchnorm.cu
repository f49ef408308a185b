// Batch normalisation over x read as [outer=N, channels=C, inner=H*W], as PyTorch's BatchNorm1d/2d:
// batch statistics with the biased variance; running statistics updated with the unbiased variance.
// Reductions are one block (256 threads) per channel, two-pass (mean, then squared deviations).

typedef long long i64;

__device__ __forceinline__ float warp_sum(float v)
{
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_down_sync(0xffffffffu, v, offset);
    return v;
}

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
    __syncthreads();
    return result;
}

__device__ __forceinline__ i64 channel_index(i64 j, int c, int channels, int inner)
{
    i64 o = j / inner, i = j % inner;
    return (o * channels + c) * inner + i;
}

// mean[c], invstd[c] = 1/sqrt(var + eps); when runningMean is not null, running stats are updated.
extern "C" __global__ void bn_statistics_f32(const float* __restrict__ x, int outer, int channels, int inner,
    float* __restrict__ mean, float* __restrict__ invstd, float* runningMean, float* runningVar, float momentum, float eps)
{
    int c = blockIdx.x;
    i64 count = (i64)outer * inner;
    float s = 0.0f;
    for (i64 j = threadIdx.x; j < count; j += blockDim.x) s += x[channel_index(j, c, channels, inner)];
    float m = block_sum(s) / (float)count;
    float q = 0.0f;
    for (i64 j = threadIdx.x; j < count; j += blockDim.x)
    {
        float d = x[channel_index(j, c, channels, inner)] - m;
        q += d * d;
    }
    float var = block_sum(q) / (float)count;
    if (threadIdx.x == 0)
    {
        mean[c] = m;
        invstd[c] = 1.0f / sqrtf(var + eps);
        if (runningMean != 0)
        {
            float unbiased = count > 1 ? var * (float)count / (float)(count - 1) : var;
            runningMean[c] = (1.0f - momentum) * runningMean[c] + momentum * m;
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

// sums[c] = sum(dy), sums[C + c] = sum(dy * xhat); also dbeta / dgamma when not null.
extern "C" __global__ void bn_backward_reduce_f32(const float* __restrict__ x, const float* __restrict__ dy, int outer, int channels, int inner,
    const float* __restrict__ mean, const float* __restrict__ invstd, float* __restrict__ sums, float* dgamma, float* dbeta)
{
    int c = blockIdx.x;
    i64 count = (i64)outer * inner;
    float m = mean[c], r = invstd[c];
    float sdy = 0.0f, sdyx = 0.0f;
    for (i64 j = threadIdx.x; j < count; j += blockDim.x)
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
