namespace Vicreg.Bench;

/// <summary>
/// The float32 GEMMs a VICReg step actually issues, read off an instrumented step (one steady step each of
/// ResNet-18 cifar 32x32 batch 64 "(c)" and the quickstart's ResNet-18 width 0.25 28x28x1 batch 128 "(q)", both with
/// mlp 2048-2048-2048), deduplicated, with the transposes, leading dimensions and beta of the call that dominates.
/// Winograd's batched per-element products run on a pre-packed A (the transformed filters) and a transposed V;
/// the im2col forward and backward-data products on a pre-packed weight; the weight gradients on plain operands,
/// accumulating over blocks of images (beta 1). Remake the list when the convolutions change their lowering.
/// </summary>
public static class IssuedGemms
{
    private static GemmShape Winograd(string label, int m, int n, int k) => new(label, m, n, k, false, true, 0, k, 264, 0f, true);
    private static GemmShape WinogradFilter(string label, int m, int n, int k, float beta) => new(label, m, n, k, true, false, Beta: beta);
    private static GemmShape Im2colFilter(string label, int m, int n, int k, int lda = 0, int ldb = 0)
        => new(label, m, n, k, false, true, lda, ldb, 0, 1f);
    private static GemmShape Im2col(string label, int m, int n, int k, int ldc = 0) => new(label, m, n, k, false, false, 0, 0, ldc, 0f, true);

    public static readonly GemmShape[] Shapes =
    [
        // Winograd F(2x2)/F(4x4) forward and backward-data: one product per transform element.
        Winograd("wino fwd/data 16ch (q)", 16, 252, 16),
        Winograd("wino fwd/data 16ch tail (q)", 16, 224, 16),
        Winograd("wino fwd/data 32ch (q)", 32, 256, 32),
        Winograd("wino fwd/data 64ch (c,q)", 64, 256, 64),
        Winograd("wino fwd/data 128ch (c,q)", 128, 256, 128),
        Winograd("wino fwd/data 256ch (c)", 256, 256, 256),
        Winograd("wino fwd/data 512ch (c)", 512, 256, 512),
        // Winograd weight gradient: dM^T V per element, accumulated over blocks of tiles.
        WinogradFilter("wino wgrad 16ch (q)", 16, 16, 252, 1f),
        WinogradFilter("wino wgrad 16ch tail (q)", 16, 16, 224, 1f),
        WinogradFilter("wino wgrad 32ch (q)", 32, 32, 256, 1f),
        WinogradFilter("wino wgrad 64ch (c,q)", 64, 64, 256, 1f),
        WinogradFilter("wino wgrad 128ch (q)", 128, 128, 128, 0f),
        WinogradFilter("wino wgrad 128ch (c)", 128, 128, 256, 1f),
        WinogradFilter("wino wgrad 256ch (c)", 256, 256, 256, 0f),
        WinogradFilter("wino wgrad 512ch (c)", 512, 512, 64, 0f),
        // im2col weight gradient (stem, stride-2 3x3, 1x1): dY col^T over blocks of images. The quickstart's
        // single-channel stem computes its weight gradient directly (SingleChannelConvolution), without a GEMM.
        Im2colFilter("stem wgrad (c)", 64, 27, 256, 1024, 256),
        Im2colFilter("3x3 s2 16->32 wgrad (q)", 32, 144, 392),
        Im2colFilter("1x1 s2 16->32 wgrad (q)", 32, 16, 392),
        Im2colFilter("3x3 s2 32->64 wgrad (q)", 64, 288, 294),
        Im2colFilter("3x3 s2 32->64 wgrad tail (q)", 64, 288, 98),
        Im2colFilter("1x1 s2 32->64 wgrad (q)", 64, 32, 294),
        Im2colFilter("1x1 s2 32->64 wgrad tail (q)", 64, 32, 98),
        Im2colFilter("3x3 s2 64->128 wgrad (c,q)", 128, 576, 256),
        Im2colFilter("1x1 s2 64->128 wgrad (c,q)", 128, 64, 256),
        Im2colFilter("3x3 s2 128->256 wgrad (c)", 256, 1152, 256),
        Im2colFilter("1x1 s2 128->256 wgrad (c)", 256, 128, 256),
        Im2colFilter("3x3 s2 256->512 wgrad (c)", 512, 2304, 256),
        Im2colFilter("1x1 s2 256->512 wgrad (c)", 512, 256, 256),
        // im2col forward: W col per image (or block of rows). The quickstart's single-channel stem has its own
        // direct kernel (SingleChannelConvolution) and issues no GEMM forward.
        Im2col("stem fwd (c)", 64, 256, 27, 1024),
        Im2col("3x3 s2 16->32 fwd (q)", 32, 196, 144),
        Im2col("1x1 s2 16->32 fwd (q)", 32, 196, 16),
        Im2col("3x3 s2 32->64 fwd (q)", 64, 147, 288),
        Im2col("3x3 s2 32->64 fwd tail (q)", 64, 98, 288),
        Im2col("1x1 s2 32->64 fwd (q)", 64, 147, 32),
        Im2col("1x1 s2 32->64 fwd tail (q)", 64, 98, 32),
        Im2col("3x3 s2 64->128 fwd (q)", 128, 128, 576),
        Im2col("1x1 s2 64->128 fwd (q)", 128, 128, 64),
        Im2col("3x3 s2 64->128 fwd (c)", 128, 256, 576),
        Im2col("1x1 s2 64->128 fwd (c)", 128, 256, 64),
        Im2col("3x3 s2 128->256 fwd (c)", 256, 128, 1152),
        Im2col("1x1 s2 128->256 fwd (c)", 256, 128, 128),
        Im2col("3x3 s2 256->512 fwd (c)", 512, 128, 2304),
        Im2col("1x1 s2 256->512 fwd (c)", 512, 128, 256),
        // im2col backward-data: W^T dY per image, then col2im.
        Im2col("3x3 s2 16->32 data (q)", 144, 196, 32),
        Im2col("1x1 s2 16->32 data (q)", 16, 196, 32),
        Im2col("3x3 s2 32->64 data (q)", 288, 147, 64),
        Im2col("3x3 s2 32->64 data tail (q)", 288, 98, 64),
        Im2col("1x1 s2 32->64 data (q)", 32, 147, 64),
        Im2col("1x1 s2 32->64 data tail (q)", 32, 98, 64),
        Im2col("3x3 s2 64->128 data (q)", 576, 128, 128),
        Im2col("1x1 s2 64->128 data (q)", 64, 128, 128),
        Im2col("3x3 s2 64->128 data (c)", 576, 256, 128),
        Im2col("1x1 s2 64->128 data (c)", 64, 256, 128),
        Im2col("3x3 s2 128->256 data (c)", 1152, 128, 256),
        Im2col("1x1 s2 128->256 data (c)", 128, 128, 256),
        Im2col("3x3 s2 256->512 data (c)", 2304, 128, 512),
        Im2col("1x1 s2 256->512 data (c)", 256, 128, 512),
        // Expander (Linear forward x W^T, backward dY W and dY^T x) and the loss's covariance.
        new("mlp fwd 512->2048 (c)", 64, 2048, 512, false, true),
        new("mlp fwd 2048->2048 (c)", 64, 2048, 2048, false, true),
        new("mlp data 2048->512 (c)", 64, 512, 2048, false, false),
        new("mlp data/loss 2048 (c)", 64, 2048, 2048, false, false),
        new("mlp wgrad 512 (c)", 2048, 512, 64, true, false),
        new("mlp wgrad/loss cov 2048 (c)", 2048, 2048, 64, true, false),
        new("mlp fwd 128->2048 (q)", 128, 2048, 128, false, true),
        new("mlp fwd 2048->2048 (q)", 128, 2048, 2048, false, true),
        new("mlp data 2048->128 (q)", 128, 128, 2048, false, false),
        new("mlp data/loss 2048 (q)", 128, 2048, 2048, false, false),
        new("mlp wgrad 128 (q)", 2048, 128, 128, true, false),
        new("mlp wgrad/loss cov 2048 (q)", 2048, 2048, 128, true, false),
    ];

    /// <summary>
    /// The GEMMs of a ResNet-50 step (imagenet stem, 224x224, batch 8, mlp 8192-8192-8192; <c>bench vicreg50</c>),
    /// read off one instrumented steady step at 1 thread: every distinct product that carries at least 0.8% of the
    /// step's GEMM work, 48 of them and 93% of it, with the transposes, leading dimensions and beta of its most
    /// frequent call. "conv": a pointwise or im2col product on the pre-packed weight (forward, or backward-data
    /// then col2im); "conv wgrad": dY col^T; "wino"/"wino wgrad": Winograd's per-element products; "mlp": the
    /// expander at 8 rows.
    /// </summary>
    public static readonly GemmShape[] ResNet50 =
    [
        new("conv 1024x196x256 (r50)", 1024, 196, 256, false, false, 0, 196, 196, 0f, true),
        new("conv 256x196x1024 (r50)", 256, 196, 1024, false, false, 0, 196, 196, 0f, true),
        new("wino 256x128x256 (r50)", 256, 128, 256, false, true, 0, 256, 136, 0f, true),
        new("conv 128x784x512 (r50)", 128, 784, 512, false, false, 0, 784, 784, 0f, true),
        new("conv 512x784x128 (r50)", 512, 784, 128, false, false, 0, 784, 784, 0f, true),
        new("conv wgrad 1024x256x392 (r50)", 1024, 256, 392, false, true, 392, 392, 256, 1f, false),
        new("conv 256x3136x64 (r50)", 256, 3136, 64, false, false, 0, 3136, 3136, 0f, true),
        new("conv 64x3136x256 (r50)", 64, 3136, 256, false, false, 0, 3136, 3136, 0f, true),
        new("wino 512x128x512 (r50)", 512, 128, 512, false, true, 0, 512, 136, 0f, true),
        new("conv wgrad 256x1024x392 (r50)", 256, 1024, 392, false, true, 392, 392, 1024, 1f, false),
        new("conv 1024x196x512 (r50)", 1024, 196, 512, false, false, 0, 196, 196, 0f, true),
        new("conv wgrad 256x64x3136 (r50)", 256, 64, 3136, false, true, 3136, 3136, 64, 1f, false),
        new("conv wgrad 512x128x784 (r50)", 512, 128, 784, false, true, 784, 784, 128, 1f, false),
        new("conv 512x196x1024 (r50)", 512, 196, 1024, false, false, 0, 196, 196, 0f, true),
        new("mlp 8x8192x8192 (r50)", 8, 8192, 8192, false, false, 8192, 8192, 8192, 0f, false),
        new("mlp 8192x8192x8 (r50)", 8192, 8192, 8, true, false, 8192, 8192, 8192, 0f, false),
        new("conv 2048x147x512 (r50)", 2048, 147, 512, false, false, 0, 147, 147, 0f, true),
        new("conv 512x147x2048 (r50)", 512, 147, 2048, false, false, 0, 147, 147, 0f, true),
        new("wino wgrad 256x256x128 (r50)", 256, 256, 128, true, false, 256, 256, 256, 0f, false),
        new("wino 64x252x64 (r50)", 64, 252, 64, false, true, 0, 64, 264, 0f, true),
        new("conv wgrad 128x512x784 (r50)", 128, 512, 784, false, true, 784, 784, 512, 1f, false),
        new("mlp 8x8192x8192 (r50)", 8, 8192, 8192, false, true, 8192, 8192, 8192, 0f, false),
        new("conv wgrad 64x147x224 (r50)", 64, 147, 224, false, true, 12544, 224, 147, 1f, false),
        new("conv 64x224x147 (r50)", 64, 224, 147, false, false, 0, 224, 12544, 0f, true),
        new("conv 1152x196x128 (r50)", 1152, 196, 128, false, false, 0, 784, 196, 0f, true),
        new("conv wgrad 128x1152x196 (r50)", 128, 1152, 196, false, true, 784, 196, 1152, 1f, false),
        new("conv 128x196x1152 (r50)", 128, 196, 1152, false, false, 0, 196, 784, 0f, true),
        new("conv wgrad 2048x512x294 (r50)", 2048, 512, 294, false, true, 294, 294, 512, 0f, false),
        new("conv 2304x196x256 (r50)", 2304, 196, 256, false, false, 0, 196, 196, 0f, true),
        new("conv 256x196x2304 (r50)", 256, 196, 2304, false, false, 0, 196, 196, 0f, true),
        new("conv wgrad 256x2304x392 (r50)", 256, 2304, 392, false, true, 392, 392, 2304, 1f, false),
        new("wino 128x252x128 (r50)", 128, 252, 128, false, true, 0, 128, 264, 0f, true),
        new("conv wgrad 1024x512x392 (r50)", 1024, 512, 392, false, true, 392, 392, 512, 1f, false),
        new("conv wgrad 128x256x3136 (r50)", 128, 256, 3136, false, true, 3136, 3136, 256, 1f, false),
        new("conv 128x3136x256 (r50)", 128, 3136, 256, false, false, 0, 3136, 3136, 0f, true),
        new("conv 256x196x512 (r50)", 256, 196, 512, false, false, 0, 784, 196, 0f, true),
        new("conv 256x3136x128 (r50)", 256, 3136, 128, false, false, 0, 3136, 3136, 0f, true),
        new("conv wgrad 256x512x784 (r50)", 256, 512, 784, false, true, 784, 784, 512, 1f, false),
        new("conv 256x784x512 (r50)", 256, 784, 512, false, false, 0, 784, 784, 0f, true),
        new("conv wgrad 512x1024x392 (r50)", 512, 1024, 392, false, true, 392, 392, 1024, 1f, false),
        new("conv 512x196x256 (r50)", 512, 196, 256, false, false, 0, 196, 784, 0f, true),
        new("conv wgrad 512x256x196 (r50)", 512, 256, 196, false, true, 784, 196, 256, 1f, false),
        new("conv 512x784x256 (r50)", 512, 784, 256, false, false, 0, 784, 784, 0f, true),
        new("conv wgrad 64x256x3136 (r50)", 64, 256, 3136, false, true, 3136, 3136, 256, 1f, false),
        new("conv 4608x147x512 (r50)", 4608, 147, 512, false, false, 0, 147, 147, 0f, true),
        new("conv 512x147x4608 (r50)", 512, 147, 4608, false, false, 0, 147, 147, 0f, true),
        new("conv wgrad 512x4608x294 (r50)", 512, 4608, 294, false, true, 294, 294, 4608, 0f, false),
        new("wino wgrad 64x64x252 (r50)", 64, 64, 252, true, false, 64, 64, 64, 1f, false),
    ];
}
