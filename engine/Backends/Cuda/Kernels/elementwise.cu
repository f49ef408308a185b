// Elementwise kernels. Compiled by NVRTC (no CUDA headers: only built-ins) or by nvcc into the fatbin.
// Every kernel uses a grid-stride loop, so any grid size covers any n.
// The op numbers equal the C# enums UnaryOp and BinaryOp (engine/Backends/KernelGeometry.cs).

typedef long long i64;

__device__ __forceinline__ float unary_apply(int op, float x, float alpha)
{
    switch (op)
    {
    case 0: return x;                              // Copy
    case 1: return alpha * x;                      // Scale
    case 2: return x + alpha;                      // AddScalar
    case 3: return x * x;                          // Square
    case 4: return sqrtf(x);                       // Sqrt
    case 5: return x > 0.0f ? x : 0.0f;            // Relu
    case 6: { float h = alpha - x; return h > 0.0f ? h : 0.0f; } // Hinge
    case 7: return expf(x);                        // Exp
    case 8: return logf(x);                        // Log
    case 10: return tanhf(x);                      // Tanh
    case 11: return powf(x, alpha);                // Pow
    case 12: return 0.5f * x * (1.0f + tanhf(0.7978845608f * (x + 0.044715f * x * x * x))); // Gelu (tanh form)
    default: return 1.0f / x;                      // Reciprocal
    }
}

// No __restrict__: Unary may run in place (x == y).
extern "C" __global__ void unary_f32(const float* x, float* y, i64 n, int op, float alpha)
{
    for (i64 i = blockIdx.x * (i64)blockDim.x + threadIdx.x; i < n; i += (i64)gridDim.x * blockDim.x)
        y[i] = unary_apply(op, x[i], alpha);
}

__device__ __forceinline__ float binary_apply(int op, float a, float b, float alpha)
{
    switch (op)
    {
    case 0: return a + b;                          // Add
    case 1: return a - b;                          // Sub
    case 2: return a * b;                          // Mul
    case 3: return a / b;                          // Div
    case 4: return a > 0.0f ? b : 0.0f;            // ReluBackward
    case 6: return (a > b || a != a) ? a : b;      // Maximum (NaN propagates, as torch.maximum)
    case 7: return (a < b || a != a) ? a : b;      // Minimum
    case 8: return a < b ? 0.0f : (a == b ? 0.5f : 1.0f); // MaxGradientShare
    case 9: return a != 0.0f ? b : -0.0f;          // SelectNonZero
    case 10: return a == 0.0f ? b : -0.0f;         // SelectZero
    case 11: return b * (1.0f - a * a);            // TanhBackward
    case 12: { float t = tanhf(0.7978845608f * (a + 0.044715f * a * a * a));   // GeluBackward (a = x, b = dy)
               return b * (0.5f * (1.0f + t) + 0.5f * a * (1.0f - t * t) * 0.7978845608f * (1.0f + 3.0f * 0.044715f * a * a)); }
    default: return a < alpha ? -b : 0.0f;         // HingeBackward
    }
}

// No __restrict__: y may alias a or b (in-place updates).
extern "C" __global__ void binary_f32(const float* a, const float* b, float* y, i64 n, int op, float alpha)
{
    for (i64 i = blockIdx.x * (i64)blockDim.x + threadIdx.x; i < n; i += (i64)gridDim.x * blockDim.x)
        y[i] = binary_apply(op, a[i], b[i], alpha);
}

// y += alpha * x
extern "C" __global__ void axpy_f32(const float* x, float* y, i64 n, float alpha)
{
    for (i64 i = blockIdx.x * (i64)blockDim.x + threadIdx.x; i < n; i += (i64)gridDim.x * blockDim.x)
        y[i] += alpha * x[i];
}

// y[o,c,i] = x[o,c,i] + alpha * v[c]
extern "C" __global__ void add_channel_vector_f32(const float* x, const float* __restrict__ v, float* y,
    i64 n, int channels, int inner, float alpha)
{
    for (i64 i = blockIdx.x * (i64)blockDim.x + threadIdx.x; i < n; i += (i64)gridDim.x * blockDim.x)
    {
        int c = (int)((i / inner) % channels);
        y[i] = x[i] + alpha * v[c];
    }
}

// y[o,m,i] = alpha * x[o,i], over all n = outer*mid*inner outputs
extern "C" __global__ void broadcast_f32(const float* __restrict__ x, float* __restrict__ y, i64 n, int mid, int inner, float alpha)
{
    for (i64 j = blockIdx.x * (i64)blockDim.x + threadIdx.x; j < n; j += (i64)gridDim.x * blockDim.x)
    {
        i64 i = j % inner;
        i64 o = j / ((i64)inner * mid);
        y[j] = alpha * x[o * inner + i];
    }
}
