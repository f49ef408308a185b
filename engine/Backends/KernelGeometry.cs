namespace Vicreg.Engine.Backends;

/// <summary>Shape of a 2-D convolution, NCHW input, OIHW weights (cross-correlation, as PyTorch).
/// A record struct, so it keys per-shape caches (e.g. cuDNN's algorithm choice).</summary>
public readonly record struct Conv2dGeometry(
    int Batch, int InChannels, int InHeight, int InWidth,
    int OutChannels, int KernelHeight, int KernelWidth,
    int StrideHeight, int StrideWidth, int PadHeight, int PadWidth)
{
    /// <summary>Output rows: (InHeight + 2 PadHeight - KernelHeight) / StrideHeight + 1, floored as PyTorch.</summary>
    public int OutHeight => (InHeight + 2 * PadHeight - KernelHeight) / StrideHeight + 1;
    /// <summary>Output columns: (InWidth + 2 PadWidth - KernelWidth) / StrideWidth + 1, floored as PyTorch.</summary>
    public int OutWidth => (InWidth + 2 * PadWidth - KernelWidth) / StrideWidth + 1;
    /// <summary>A 1x1 kernel, stride 1, no padding: the convolution is a plain GEMM per image, with no im2col.</summary>
    public bool IsPointwise => KernelHeight == 1 && KernelWidth == 1 && StrideHeight == 1 && StrideWidth == 1 && PadHeight == 0 && PadWidth == 0;
    /// <summary>NCHW: [Batch, InChannels, InHeight, InWidth].</summary>
    public Shape InputShape => new(Batch, InChannels, InHeight, InWidth);
    /// <summary>OIHW: [OutChannels, InChannels, KernelHeight, KernelWidth].</summary>
    public Shape WeightShape => new(OutChannels, InChannels, KernelHeight, KernelWidth);
    /// <summary>NCHW: [Batch, OutChannels, OutHeight, OutWidth].</summary>
    public Shape OutputShape => new(Batch, OutChannels, OutHeight, OutWidth);
    /// <summary>Multiply-adds of the forward pass (each backward pass does the same number).</summary>
    public long MultiplyAdds => (long)Batch * OutChannels * OutHeight * OutWidth * InChannels * KernelHeight * KernelWidth;
}

/// <summary>Shape of a 2-D max pooling window over NCHW input (padding counts as -infinity, as PyTorch).</summary>
public readonly record struct Pool2dGeometry(
    int Batch, int Channels, int InHeight, int InWidth,
    int KernelHeight, int KernelWidth, int StrideHeight, int StrideWidth, int PadHeight, int PadWidth)
{
    /// <summary>Output rows: (InHeight + 2 PadHeight - KernelHeight) / StrideHeight + 1, floored as PyTorch.</summary>
    public int OutHeight => (InHeight + 2 * PadHeight - KernelHeight) / StrideHeight + 1;
    /// <summary>Output columns: (InWidth + 2 PadWidth - KernelWidth) / StrideWidth + 1, floored as PyTorch.</summary>
    public int OutWidth => (InWidth + 2 * PadWidth - KernelWidth) / StrideWidth + 1;
    /// <summary>NCHW: [Batch, Channels, InHeight, InWidth].</summary>
    public Shape InputShape => new(Batch, Channels, InHeight, InWidth);
    /// <summary>NCHW: [Batch, Channels, OutHeight, OutWidth].</summary>
    public Shape OutputShape => new(Batch, Channels, OutHeight, OutWidth);
}

/// <summary>Elementwise y = f(x, alpha).</summary>
public enum UnaryOp
{
    /// <summary>y = x</summary>
    Copy,
    /// <summary>y = alpha * x</summary>
    Scale,
    /// <summary>y = x + alpha</summary>
    AddScalar,
    /// <summary>y = x * x</summary>
    Square,
    /// <summary>y = sqrt(x)</summary>
    Sqrt,
    /// <summary>y = max(x, 0)</summary>
    Relu,
    /// <summary>y = max(alpha - x, 0), the hinge of VICReg's variance term</summary>
    Hinge,
    /// <summary>y = exp(x)</summary>
    Exp,
    /// <summary>y = log(x)</summary>
    Log,
    /// <summary>y = 1 / x</summary>
    Reciprocal,
    /// <summary>y = tanh(x)</summary>
    Tanh,
    /// <summary>y = x ^ alpha (C's pow: a negative x gives a real result only for an integer alpha)</summary>
    Pow,
    /// <summary>y = GELU(x), tanh form: the fused forward of Ops.Gelu</summary>
    Gelu,
}

/// <summary>Elementwise y = f(a, b) on tensors of one shape.</summary>
public enum BinaryOp
{
    /// <summary>y = a + b</summary>
    Add,
    /// <summary>y = a - b</summary>
    Sub,
    /// <summary>y = a * b</summary>
    Mul,
    /// <summary>y = a / b</summary>
    Div,
    /// <summary>y = b where a &gt; 0, else 0 (ReLU backward with a = ReLU output or input, b = dy)</summary>
    ReluBackward,
    /// <summary>y = -b where a &lt; alpha, else 0 (backward of <see cref="UnaryOp.Hinge"/>)</summary>
    HingeBackward,
    /// <summary>y = max(a, b); NaN if either is NaN (torch.maximum)</summary>
    Maximum,
    /// <summary>y = min(a, b); NaN if either is NaN (torch.minimum)</summary>
    Minimum,
    /// <summary>y = 0 where a &lt; b, 1/2 where a == b, else 1: the share of max(a, b)'s gradient that a
    /// receives (and, with a and b swapped, min's), ties split evenly as PyTorch does</summary>
    MaxGradientShare,
    /// <summary>y = b where a != 0, else -0 (-0 so that SelectNonZero(c, a) + SelectZero(c, b) is exactly where(c, a, b))</summary>
    SelectNonZero,
    /// <summary>y = b where a == 0, else -0</summary>
    SelectZero,
    /// <summary>y = b (1 - a²): tanh's backward with a = tanh(x), b = dy</summary>
    TanhBackward,
    /// <summary>y = b GELU'(a), tanh form: the fused backward of Ops.Gelu, with a = x, b = dy</summary>
    GeluBackward,
}
