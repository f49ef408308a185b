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
}
