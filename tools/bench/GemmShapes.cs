namespace Vicreg.Bench;

/// <summary>A GEMM to time: row-major C[m x n] = op(A) op(B) + beta C, with the transposes, leading dimensions and
/// beta as the caller issues them (0 leading dimension: the packed width). <see cref="PackedA"/>: the caller packs A once
/// (<c>GemmKernel.PackWholeA</c>) for many products, so only <c>RunPackedA</c> is timed on our side.</summary>
public readonly record struct GemmShape(string Label, int M, int N, int K, bool TransA, bool TransB, int LeadA = 0, int LeadB = 0,
    int LeadC = 0, float Beta = 0f, bool PackedA = false)
{
    public double Flops => 2.0 * M * N * K;
    public int Lda => LeadA > 0 ? LeadA : TransA ? M : K;
    public int Ldb => LeadB > 0 ? LeadB : TransB ? K : N;
    public int Ldc => LeadC > 0 ? LeadC : N;
    /// <summary>Elements the operands span with these leading dimensions.</summary>
    public long ASize => (long)(TransA ? K : M) * Lda;
    public long BSize => (long)(TransB ? N : K) * Ldb;
    public long CSize => (long)M * Ldc;
}

/// <summary>The convolutions of ResNet-18 with the CIFAR stem (3x3 stride-1 first conv, no max-pool), on
/// 32x32 inputs, and the per-image GEMMs the CPU convolution lowers them to.</summary>
public static class ResNet18
{
    /// <summary>One distinct conv layer and how many times it occurs in the network.</summary>
    public readonly record struct ConvLayer(string Label, int InChannels, int OutChannels, int Kernel, int Stride, int Pad, int InSize, int Count)
    {
        public int OutSize => (InSize + 2 * Pad - Kernel) / Stride + 1;
        public int Crs => InChannels * Kernel * Kernel;
        public int Hw => OutSize * OutSize;
    }

    public static readonly ConvLayer[] Layers =
    [
        new("stem 3->64 @32", 3, 64, 3, 1, 1, 32, 1),
        new("64->64 @32", 64, 64, 3, 1, 1, 32, 4),
        new("64->128 s2 @16", 64, 128, 3, 2, 1, 32, 1),
        new("128->128 @16", 128, 128, 3, 1, 1, 16, 3),
        new("1x1 64->128 s2", 64, 128, 1, 2, 0, 32, 1),
        new("128->256 s2 @8", 128, 256, 3, 2, 1, 16, 1),
        new("256->256 @8", 256, 256, 3, 1, 1, 8, 3),
        new("1x1 128->256 s2", 128, 256, 1, 2, 0, 16, 1),
        new("256->512 s2 @4", 256, 512, 3, 2, 1, 8, 1),
        new("512->512 @4", 512, 512, 3, 1, 1, 4, 3),
        new("1x1 256->512 s2", 256, 512, 1, 2, 0, 8, 1),
    ];

    /// <summary>The quickstart's network: ResNet-18 at width 0.25 (16 to 128 channels), CIFAR stem, on 28x28x1
    /// Fashion-MNIST images.</summary>
    public static readonly ConvLayer[] Quickstart =
    [
        new("stem 1->16 @28", 1, 16, 3, 1, 1, 28, 1),
        new("16->16 @28", 16, 16, 3, 1, 1, 28, 4),
        new("16->32 s2 @14", 16, 32, 3, 2, 1, 28, 1),
        new("32->32 @14", 32, 32, 3, 1, 1, 14, 3),
        new("1x1 16->32 s2", 16, 32, 1, 2, 0, 28, 1),
        new("32->64 s2 @7", 32, 64, 3, 2, 1, 14, 1),
        new("64->64 @7", 64, 64, 3, 1, 1, 7, 3),
        new("1x1 32->64 s2", 32, 64, 1, 2, 0, 14, 1),
        new("64->128 s2 @4", 64, 128, 3, 2, 1, 7, 1),
        new("128->128 @4", 128, 128, 3, 1, 1, 4, 3),
        new("1x1 64->128 s2", 64, 128, 1, 2, 0, 7, 1),
    ];
}
