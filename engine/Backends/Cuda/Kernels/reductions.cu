// Reductions. Deterministic: no atomics; every sum has a fixed order for a given launch shape
// (per-thread strided partial sums, then a fixed warp-shuffle tree). Blocks are 256 threads.

typedef long long i64;

#include "block_reduce.cuh"

// y[c] = alpha * sum over o,i of x[o,c,i]; one block per channel.
extern "C" __global__ void channel_sum_f32(const float* __restrict__ x, float* __restrict__ y, int outer, int channels, int inner, float alpha)
{
    int c = blockIdx.x;
    i64 count = (i64)outer * inner;
    float s = 0.0f;
    for (i64 j = threadIdx.x; j < count; j += blockDim.x)
    {
        i64 o = j / inner, i = j % inner;
        s += x[(o * channels + c) * inner + i];
    }
    s = block_sum(s);
    if (threadIdx.x == 0) y[c] = alpha * s;
}

// The inner == 1 case of channel_sum_f32 ([rows, cols], the column sums): partials[k, c] = sum of x[r, c] over the rows
// of chunk k, in row order. Threads run along the columns, so each row is read coalesced; block b covers column block
// b % column_blocks of chunk b / column_blocks. reduce_sum_f32 then adds the chunks in order (no atomics).
extern "C" __global__ void column_sum_partial_f32(const float* __restrict__ x, float* __restrict__ partials, int rows, int cols, int rows_per_chunk)
{
    int column_blocks = (cols + blockDim.x - 1) / blockDim.x;
    int chunk = blockIdx.x / column_blocks;
    int c = (blockIdx.x % column_blocks) * blockDim.x + threadIdx.x;
    if (c >= cols) return;
    int first = chunk * rows_per_chunk, last = min(first + rows_per_chunk, rows);
    float s = 0.0f;
    for (int r = first; r < last; r++) s += x[(i64)r * cols + c];
    partials[(i64)chunk * cols + c] = s;
}

// y[o,i] = alpha * sum over m of x[o,m,i]; one thread per output (coalesced along i).
extern "C" __global__ void reduce_sum_f32(const float* __restrict__ x, float* __restrict__ y, int outer, int mid, int inner, float alpha)
{
    i64 n = (i64)outer * inner;
    for (i64 j = blockIdx.x * (i64)blockDim.x + threadIdx.x; j < n; j += (i64)gridDim.x * blockDim.x)
    {
        i64 o = j / inner, i = j % inner;
        const float* p = x + o * mid * (i64)inner + i;
        float s = 0.0f;
        for (int m = 0; m < mid; m++) s += p[(i64)m * inner];
        y[j] = alpha * s;
    }
}

// The inner == 1 case of reduce_sum_f32: y[o] = alpha * sum over m of x[o,m]; one block per row.
extern "C" __global__ void reduce_rows_f32(const float* __restrict__ x, float* __restrict__ y, int mid, float alpha)
{
    const float* row = x + (i64)blockIdx.x * mid;
    float s = 0.0f;
    for (int m = threadIdx.x; m < mid; m += blockDim.x) s += row[m];
    s = block_sum(s);
    if (threadIdx.x == 0) y[blockIdx.x] = alpha * s;
}

// partials[b] = sum of x[i]^2 over the grid-stride share of block b (first stage of SumOfSquares).
extern "C" __global__ void sum_squares_partial_f32(const float* __restrict__ x, i64 n, float* __restrict__ partials)
{
    float s = 0.0f;
    for (i64 i = blockIdx.x * (i64)blockDim.x + threadIdx.x; i < n; i += (i64)gridDim.x * blockDim.x)
    {
        float v = x[i];
        s += v * v;
    }
    s = block_sum(s);
    if (threadIdx.x == 0) partials[blockIdx.x] = s;
}

// partials[b] = sum of x[i] over the grid-stride share of block b (first stage of a whole-tensor sum).
extern "C" __global__ void sum_partial_f32(const float* __restrict__ x, i64 n, float* __restrict__ partials)
{
    float s = 0.0f;
    for (i64 i = blockIdx.x * (i64)blockDim.x + threadIdx.x; i < n; i += (i64)gridDim.x * blockDim.x) s += x[i];
    s = block_sum(s);
    if (threadIdx.x == 0) partials[blockIdx.x] = s;
}

// result[0] = scale * sum of x[0..n): the second stage of a two-stage sum; launched as one block.
extern "C" __global__ void sum_scaled_f32(const float* __restrict__ x, int n, float scale, float* __restrict__ result)
{
    float s = 0.0f;
    for (int i = threadIdx.x; i < n; i += blockDim.x) s += x[i];
    s = block_sum(s);
    if (threadIdx.x == 0) result[0] = scale * s;
}
