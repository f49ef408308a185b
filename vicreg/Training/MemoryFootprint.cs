using System.Globalization;
using Vicreg.Engine.Models;

namespace Vicreg.Training;

/// <summary>
/// What a run will need in memory, estimated from the model's shapes before anything large is allocated, so
/// that an impossible run (an --mlp of 100000-100000, a --batch-size of a billion) is refused with one line
/// instead of ending in "Out of memory." The estimate is deliberately on the high side:
/// <list type="bullet">
/// <item>parameters: 4 bytes each, three times when training (weights, gradients, LARS momentum);</item>
/// <item>activations: every convolution's, batch norm's and ReLU's output in the backbone and expander, per
/// sample, times the batch (and the two views); when training, twice that, for the saved forward values and
/// the gradients flowing back through them;</item>
/// <item>the loss's D x D covariance matrix (one branch at a time) and its [N, D] gradients.</item>
/// </list>
/// </summary>
public readonly record struct MemoryFootprint(long ParameterBytes, long ActivationBytes, long OtherBytes)
{
    public long Total => ParameterBytes + ActivationBytes + OtherBytes;

    /// <summary>A VICReg pretraining step: backbone + expander trained on two views of a batch.</summary>
    public static MemoryFootprint Pretraining(string arch, ResNetStem stem, double width, int channels, int height, int imageWidth,
        string mlp, int batchSize)
    {
        var shape = ResNetShape.Of(arch, stem, width, channels, height, imageWidth);
        long parameters = shape.Parameters, activations = shape.ActivationsPerSample;
        int inFeatures = shape.RepresentationSize;
        var sizes = Expander.ParseSpec(mlp);
        for (int i = 0; i < sizes.Length; i++)
        {
            bool last = i == sizes.Length - 1;
            parameters += (long)inFeatures * sizes[i] + (last ? 0 : 3L * sizes[i]); // weight, bias, BN gamma and beta
            activations += (last ? 1L : 3L) * sizes[i];                            // Linear, BN, ReLU outputs
            inFeatures = sizes[i];
        }
        long d = sizes[^1];
        return new MemoryFootprint(
            ParameterBytes: 3 * 4 * parameters,
            ActivationBytes: 2 * 4 * activations * 2 * batchSize,
            OtherBytes: 4 * (d * d + 4 * (long)batchSize * d));
    }

    /// <summary>Features of a frozen backbone in evaluation mode, a batch at a time, kept for <paramref name="samples"/> images.</summary>
    public static MemoryFootprint Features(string arch, ResNetStem stem, double width, int channels, int height, int imageWidth,
        int batchSize, long samples)
    {
        var shape = ResNetShape.Of(arch, stem, width, channels, height, imageWidth);
        return new MemoryFootprint(
            ParameterBytes: 4 * shape.Parameters,
            ActivationBytes: 4 * shape.ActivationsPerSample * batchSize + 4L * batchSize * channels * height * imageWidth,
            OtherBytes: 4 * samples * shape.RepresentationSize);
    }

    /// <summary>Throws a <see cref="MemoryBudgetException"/> naming what is needed and what is available when it does not fit.</summary>
    public void Require(string what)
    {
        var (available, source) = AvailableMemory.Read();
        if (available is null || Total <= available) return;
        throw new MemoryBudgetException(
            $"{what} needs about {Bytes(Total)} of memory (parameters and their training state {Bytes(ParameterBytes)}, activations " +
            $"{Bytes(ActivationBytes)}, other {Bytes(OtherBytes)}) and {Bytes(available.Value)} is available ({source}); " +
            "lower --batch-size, --mlp or --width");
    }

    public static string Bytes(long bytes) => bytes >= 1L << 30
        ? (bytes / (double)(1L << 30)).ToString("F1", CultureInfo.InvariantCulture) + " GiB"
        : (bytes / (double)(1L << 20)).ToString("F0", CultureInfo.InvariantCulture) + " MiB";
}

/// <summary>A run that would not fit in memory: one line, exit code 2.</summary>
public sealed class MemoryBudgetException(string message) : Exception(message);
