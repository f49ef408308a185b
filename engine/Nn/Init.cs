namespace Vicreg.Engine.Nn;

/// <summary>Parameter initializations with PyTorch's definitions, drawn from a seeded <see cref="Rng"/>.
/// Values are drawn on the host in double, in element order, and written a chunk at a time: a whole-tensor
/// host copy of an 8192 x 8192 expander layer would be 0.8 GiB of transient arrays (double and float) that
/// the process's peak resident memory keeps counting long after initialization.</summary>
public static class Init
{
    /// <summary>Elements drawn and written at a time.</summary>
    internal const int ChunkElements = 1 << 16;

    /// <summary>Fills <paramref name="t"/> from U(<paramref name="low"/>, <paramref name="high"/>).</summary>
    public static void Uniform(Tensor t, double low, double high, ref Rng rng)
    {
        var draw = new UniformDraw(low, high);
        Fill(t, ref draw, ref rng);
    }

    /// <summary>Fills <paramref name="t"/> from N(<paramref name="mean"/>, <paramref name="std"/>²).</summary>
    public static void Normal(Tensor t, double mean, double std, ref Rng rng)
    {
        var draw = new NormalDraw(mean, std);
        Fill(t, ref draw, ref rng);
    }

    /// <summary>fan_in = the product of every dimension but the first (PyTorch's _calculate_fan_in_and_fan_out).</summary>
    public static int FanIn(Tensor weight) => weight.Shape.Product(1, weight.Rank);
    /// <summary>fan_out = the first dimension times the product of those after the second (PyTorch's _calculate_fan_in_and_fan_out).</summary>
    public static int FanOut(Tensor weight) => weight.Shape[0] * weight.Shape.Product(2, weight.Rank);

    /// <summary>PyTorch's default for Conv2d and Linear weights: kaiming_uniform_(a=sqrt(5)), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)).</summary>
    public static void DefaultWeight(Tensor weight, ref Rng rng)
    {
        double bound = 1.0 / Math.Sqrt(FanIn(weight));
        Uniform(weight, -bound, bound, ref rng);
    }

    /// <summary>PyTorch's default bias: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with the weight's fan_in.</summary>
    public static void DefaultBias(Tensor bias, int fanIn, ref Rng rng)
    {
        double bound = fanIn > 0 ? 1.0 / Math.Sqrt(fanIn) : 0;
        Uniform(bias, -bound, bound, ref rng);
    }

    /// <summary>kaiming_normal_(mode="fan_out", nonlinearity="relu"): N(0, 2/fan_out), torchvision's ResNet convs.</summary>
    public static void KaimingNormalFanOut(Tensor weight, ref Rng rng) => Normal(weight, 0, Math.Sqrt(2.0 / FanOut(weight)), ref rng);

    private interface IDraw
    {
        double Next(ref Rng rng);
    }

    private readonly struct UniformDraw(double low, double high) : IDraw
    {
        public double Next(ref Rng rng) => rng.Uniform(low, high);
    }

    private readonly struct NormalDraw(double mean, double std) : IDraw
    {
        public double Next(ref Rng rng) => mean + std * rng.NextNormal();
    }

    /// <summary>Draws every element of <paramref name="t"/> in order, a chunk at a time, each chunk written
    /// into its slice of the tensor (viewed flat) in the tensor's element type.</summary>
    private static void Fill<TDraw>(Tensor t, ref TDraw draw, ref Rng rng) where TDraw : struct, IDraw
    {
        if (t.DType != DType.Float32 && t.DType != DType.Float64)
            throw new NotSupportedException($"cannot initialize a {t.DType.Name()} tensor with random values");
        long numel = t.Numel;
        int chunk = (int)Math.Min(numel, ChunkElements);
        var values = new double[chunk];
        var singles = t.DType == DType.Float32 ? new float[chunk] : null;
        using var flat = t.View(new Shape(checked((int)numel)));
        for (long start = 0; start < numel; start += chunk)
        {
            int count = (int)Math.Min(chunk, numel - start);
            for (int i = 0; i < count; i++) values[i] = draw.Next(ref rng);
            using var slice = flat.NarrowView((int)start, count);
            if (singles is null)
            {
                slice.CopyFrom<double>(values.AsSpan(0, count));
                continue;
            }
            for (int i = 0; i < count; i++) singles[i] = (float)values[i];
            slice.CopyFrom<float>(singles.AsSpan(0, count));
        }
    }
}
