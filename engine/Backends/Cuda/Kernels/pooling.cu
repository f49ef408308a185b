// 2-D max pooling over NCHW planes; padding counts as -infinity (as PyTorch). argmax holds the flat
// index h*W + w of the winner within its plane; ties go to the first in row-major window order, and a
// NaN wins (propagates), as PyTorch.

typedef long long i64;

extern "C" __global__ void maxpool2d_forward_f32(const float* __restrict__ x, float* __restrict__ y, int* __restrict__ argmax,
    int planes, int height, int width, int outHeight, int outWidth,
    int kernelH, int kernelW, int strideH, int strideW, int padH, int padW)
{
    i64 n = (i64)planes * outHeight * outWidth;
    for (i64 j = blockIdx.x * (i64)blockDim.x + threadIdx.x; j < n; j += (i64)gridDim.x * blockDim.x)
    {
        int ow = (int)(j % outWidth);
        int oh = (int)((j / outWidth) % outHeight);
        i64 p = j / ((i64)outWidth * outHeight);
        const float* plane = x + p * height * (i64)width;
        int h0 = oh * strideH - padH, w0 = ow * strideW - padW;
        float best = __int_as_float(0xff800000); // -infinity
        int bestIndex = -1;
        for (int ky = 0; ky < kernelH; ky++)
        {
            int h = h0 + ky;
            if (h < 0 || h >= height) continue;
            for (int kx = 0; kx < kernelW; kx++)
            {
                int w = w0 + kx;
                if (w < 0 || w >= width) continue;
                float v = plane[h * width + w];
                if (bestIndex < 0 || v > best || v != v)
                {
                    best = v;
                    bestIndex = h * width + w;
                    if (v != v) { ky = kernelH; break; }
                }
            }
        }
        y[j] = best;
        argmax[j] = bestIndex;
    }
}

// Gather form (no atomics, deterministic): each input element sums dy of the outputs whose argmax is it,
// in row-major output order.
extern "C" __global__ void maxpool2d_backward_f32(const float* __restrict__ dy, const int* __restrict__ argmax, float* __restrict__ dx,
    int planes, int height, int width, int outHeight, int outWidth,
    int kernelH, int kernelW, int strideH, int strideW, int padH, int padW)
{
    i64 n = (i64)planes * height * width;
    for (i64 j = blockIdx.x * (i64)blockDim.x + threadIdx.x; j < n; j += (i64)gridDim.x * blockDim.x)
    {
        int w = (int)(j % width);
        int h = (int)((j / width) % height);
        i64 p = j / ((i64)width * height);
        int index = h * width + w;
        int ohStart = h + padH < kernelH ? 0 : (h + padH - kernelH) / strideH + 1;
        int ohEnd = min((h + padH) / strideH + 1, outHeight);
        int owStart = w + padW < kernelW ? 0 : (w + padW - kernelW) / strideW + 1;
        int owEnd = min((w + padW) / strideW + 1, outWidth);
        const float* dyPlane = dy + p * outHeight * (i64)outWidth;
        const int* argPlane = argmax + p * outHeight * (i64)outWidth;
        float s = 0.0f;
        for (int oh = ohStart; oh < ohEnd; oh++)
            for (int ow = owStart; ow < owEnd; ow++)
                if (argPlane[oh * outWidth + ow] == index) s += dyPlane[oh * outWidth + ow];
        dx[j] = s;
    }
}
