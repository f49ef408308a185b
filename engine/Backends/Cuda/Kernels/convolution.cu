// im2col / col2im for one NCHW image: the convolution fallback when cuDNN's convolution symbols are
// absent (cuDNN 9 deprecates them). cols is [C*kh*kw, OH*OW] row-major, so y = W[O, C*kh*kw] x cols.

typedef long long i64;

extern "C" __global__ void im2col_f32(const float* __restrict__ x, float* __restrict__ cols, int channels, int height, int width,
    int kernelH, int kernelW, int strideH, int strideW, int padH, int padW, int outHeight, int outWidth)
{
    i64 spatial = (i64)outHeight * outWidth;
    i64 n = (i64)channels * kernelH * kernelW * spatial;
    for (i64 j = blockIdx.x * (i64)blockDim.x + threadIdx.x; j < n; j += (i64)gridDim.x * blockDim.x)
    {
        int ow = (int)(j % outWidth);
        int oh = (int)((j / outWidth) % outHeight);
        i64 row = j / spatial;
        int kx = (int)(row % kernelW);
        int ky = (int)((row / kernelW) % kernelH);
        i64 c = row / ((i64)kernelW * kernelH);
        int h = oh * strideH - padH + ky, w = ow * strideW - padW + kx;
        cols[j] = h >= 0 && h < height && w >= 0 && w < width ? x[(c * height + h) * width + w] : 0.0f;
    }
}

// Gather form of col2im (no atomics): dx[c,h,w] = sum of the cols entries that im2col read from (c,h,w).
extern "C" __global__ void col2im_f32(const float* __restrict__ cols, float* __restrict__ dx, int channels, int height, int width,
    int kernelH, int kernelW, int strideH, int strideW, int padH, int padW, int outHeight, int outWidth)
{
    i64 spatial = (i64)outHeight * outWidth;
    i64 n = (i64)channels * height * width;
    for (i64 j = blockIdx.x * (i64)blockDim.x + threadIdx.x; j < n; j += (i64)gridDim.x * blockDim.x)
    {
        int w = (int)(j % width);
        int h = (int)((j / width) % height);
        i64 c = j / ((i64)width * height);
        float s = 0.0f;
        for (int ky = 0; ky < kernelH; ky++)
        {
            int hy = h + padH - ky;
            if (hy < 0 || hy % strideH != 0) continue;
            int oh = hy / strideH;
            if (oh >= outHeight) continue;
            for (int kx = 0; kx < kernelW; kx++)
            {
                int wx = w + padW - kx;
                if (wx < 0 || wx % strideW != 0) continue;
                int ow = wx / strideW;
                if (ow >= outWidth) continue;
                s += cols[((c * kernelH + ky) * kernelW + kx) * spatial + (i64)oh * outWidth + ow];
            }
        }
        dx[j] = s;
    }
}
