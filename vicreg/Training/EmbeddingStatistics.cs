using Vicreg.Engine;
using Vicreg.Engine.Autograd;

namespace Vicreg.Training;

/// <summary>Collapse watch: the mean over dimensions of each embedding dimension's standard deviation over
/// the batch (unbiased). Near 0 means the embeddings collapsed; VICReg's variance term holds it near 1.</summary>
public static class EmbeddingStatistics
{
    public static double MeanStd(Tensor z)
    {
        using var scope = TensorScope.Begin();
        using var _ = Tape.NoGrad();
        int n = z.Shape[0];
        var centered = Ops.AddChannelVector(z, Ops.Mean(z, 0), -1);
        var variance = Ops.Scale(Ops.Sum(Ops.Square(centered), 0), 1.0 / Math.Max(1, n - 1));
        return Ops.MeanAll(Ops.Sqrt(variance)).Item();
    }
}
