namespace Vicreg.Engine.Backends;

/// <summary>Shape of a 2-D convolution, NCHW input, OIHW weights (cross-correlation, as PyTorch).
/// A record struct, so it keys per-shape caches (e.g. cuDNN's algorithm choice).</summary>
public readonly record struct Conv2dGeometry(
    int Batch, int InChannels, int InHeight, int InWidth,
    int OutChannels, int KernelHeight, int KernelWidth,
    int StrideHeight, int StrideWidth, int PadHeight, int PadWidth)
{
    public int OutHeight => (InHeight + 2 * PadHeight - KernelHeight) / StrideHeight + 1;
    public int OutWidth => (InWidth + 2 * PadWidth - KernelWidth) / StrideWidth + 1;
    public bool IsPointwise => KernelHeight == 1 && KernelWidth == 1 && StrideHeight == 1 && StrideWidth == 1 && PadHeight == 0 && PadWidth == 0;
    public Shape InputShape => new(Batch, InChannels, InHeight, InWidth);
    public Shape WeightShape => new(OutChannels, InChannels, KernelHeight, KernelWidth);
    public Shape OutputShape => new(Batch, OutChannels, OutHeight, OutWidth);
    /// <summary>Multiply-adds of the forward pass (each backward pass does the same number).</summary>
    public long MultiplyAdds => (long)Batch * OutChannels * OutHeight * OutWidth * InChannels * KernelHeight * KernelWidth;
}

/// <summary>Shape of a 2-D max pooling window over NCHW input (padding counts as -infinity, as PyTorch).</summary>
public readonly record struct Pool2dGeometry(
    int Batch, int Channels, int InHeight, int InWidth,
    int KernelHeight, int KernelWidth, int StrideHeight, int StrideWidth, int PadHeight, int PadWidth)
{
    public int OutHeight => (InHeight + 2 * PadHeight - KernelHeight) / StrideHeight + 1;
    public int OutWidth => (InWidth + 2 * PadWidth - KernelWidth) / StrideWidth + 1;
    public Shape InputShape => new(Batch, Channels, InHeight, InWidth);
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
}

/// <summary>Elementwise y = f(a, b) on tensors of one shape.</summary>
public enum BinaryOp
{
    Add,
    Sub,
    Mul,
    Div,
    /// <summary>y = b where a &gt; 0, else 0 (ReLU backward with a = ReLU output or input, b = dy)</summary>
    ReluBackward,
    /// <summary>y = -b where a &lt; alpha, else 0 (backward of <see cref="UnaryOp.Hinge"/>)</summary>
    HingeBackward,
}
