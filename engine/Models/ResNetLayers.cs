using Vicreg.Engine;
using Vicreg.Engine.Nn;

namespace Vicreg.Engine.Models;

/// <summary>A residual block whose last batch norm can be zero-initialized ("zero_init_residual").</summary>
internal interface IResidualBlock
{
    BatchNorm LastNorm { get; }
}

/// <summary>The convolutions ResNet is made of, initialized as torchvision does.</summary>
internal static class ResNetLayers
{
    /// <summary>A bias-free square conv with "same" padding for odd kernels (k/2), weights drawn from
    /// kaiming_normal_(mode="fan_out", nonlinearity="relu") as torchvision's ResNet.__init__ does.</summary>
    public static Conv2d Conv(int inChannels, int outChannels, int kernel, int stride, ref Rng rng, DType dtype, IBackend? backend)
    {
        var conv = new Conv2d(inChannels, outChannels, kernel, stride, kernel / 2, bias: false, ref rng, dtype, backend);
        Init.KaimingNormalFanOut(conv.Weight, ref rng);
        return conv;
    }

    /// <summary>The shortcut projection: 1x1 conv with the block's stride, then BN (named "0" and "1").</summary>
    public static Sequential Downsample(int inChannels, int outChannels, int stride, ref Rng rng, DType dtype, IBackend? backend) =>
        new(Conv(inChannels, outChannels, 1, stride, ref rng, dtype, backend), new BatchNorm(outChannels, dtype: dtype, backend: backend));
}
