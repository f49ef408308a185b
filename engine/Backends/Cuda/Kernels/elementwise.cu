// Elementwise kernels. Compiled by NVRTC (no CUDA headers: only built-ins) or by nvcc into the fatbin.
// Every kernel uses a grid-stride loop, so any grid size covers any n.
// The ops are the C# enums UnaryOp and BinaryOp, written to ops.cuh by the build.

typedef long long i64;

#include "ops.cuh"

__device__ __forceinline__ float unary_apply(UnaryOp op, float x, float alpha)
{
    switch (op)
    {
    case UnaryOp::Copy: return x;
    case UnaryOp::Scale: return alpha * x;
    case UnaryOp::AddScalar: return x + alpha;
    case UnaryOp::Square: return x * x;
    case UnaryOp::Sqrt: return sqrtf(x);
    case UnaryOp::Relu: return x > 0.0f ? x : 0.0f;
    case UnaryOp::Hinge: { float h = alpha - x; return h > 0.0f ? h : 0.0f; }
    case UnaryOp::Exp: return expf(x);
    case UnaryOp::Log: return logf(x);
    case UnaryOp::Reciprocal: return 1.0f / x;
    case UnaryOp::Tanh: return tanhf(x);
    case UnaryOp::Pow: return powf(x, alpha);
    case UnaryOp::Gelu: return 0.5f * x * (1.0f + tanhf(0.7978845608f * (x + 0.044715f * x * x * x))); // tanh form
    default: __trap(); return __int_as_float(0x7fc00000); // an op this source does not know: fail the launch
    }
}

// No __restrict__: Unary may run in place (x == y).
extern "C" __global__ void unary_f32(const float* x, float* y, i64 n, UnaryOp op, float alpha)
{
    for (i64 i = blockIdx.x * (i64)blockDim.x + threadIdx.x; i < n; i += (i64)gridDim.x * blockDim.x)
        y[i] = unary_apply(op, x[i], alpha);
}

__device__ __forceinline__ float binary_apply(BinaryOp op, float a, float b, float alpha)
{
    switch (op)
    {
    case BinaryOp::Add: return a + b;
    case BinaryOp::Sub: return a - b;
    case BinaryOp::Mul: return a * b;
    case BinaryOp::Div: return a / b;
    case BinaryOp::ReluBackward: return a > 0.0f ? b : 0.0f;
    case BinaryOp::HingeBackward: return a < alpha ? -b : 0.0f;
    case BinaryOp::Maximum: return (a > b || a != a) ? a : b; // NaN propagates, as torch.maximum
    case BinaryOp::Minimum: return (a < b || a != a) ? a : b;
    case BinaryOp::MaxGradientShare: return a < b ? 0.0f : (a == b ? 0.5f : 1.0f);
    case BinaryOp::SelectNonZero: return a != 0.0f ? b : -0.0f;
    case BinaryOp::SelectZero: return a == 0.0f ? b : -0.0f;
    case BinaryOp::TanhBackward: return b * (1.0f - a * a);
    case BinaryOp::GeluBackward: { float t = tanhf(0.7978845608f * (a + 0.044715f * a * a * a)); // a = x, b = dy
        return b * (0.5f * (1.0f + t) + 0.5f * a * (1.0f - t * t) * 0.7978845608f * (1.0f + 3.0f * 0.044715f * a * a)); }
    default: __trap(); return __int_as_float(0x7fc00000);
    }
}

// No __restrict__: y may alias a or b (in-place updates).
extern "C" __global__ void binary_f32(const float* a, const float* b, float* y, i64 n, BinaryOp op, float alpha)
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
