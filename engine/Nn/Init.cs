namespace Vicreg.Engine.Nn;

/// <summary>Parameter initializations with PyTorch's definitions, drawn from a seeded <see cref="Rng"/>.
/// Values are generated on the host in double and converted once (initialization is not a hot path).</summary>
public static class Init
{
    /// <summary>Fills <paramref name="t"/> from U(<paramref name="low"/>, <paramref name="high"/>).</summary>
    public static void Uniform(Tensor t, double low, double high, ref Rng rng)
    {
        var values = new double[t.Numel];
        for (int i = 0; i < values.Length; i++) values[i] = rng.Uniform(low, high);
        Write(t, values);
    }

    /// <summary>Fills <paramref name="t"/> from N(<paramref name="mean"/>, <paramref name="std"/>²).</summary>
    public static void Normal(Tensor t, double mean, double std, ref Rng rng)
    {
        var values = new double[t.Numel];
        for (int i = 0; i < values.Length; i++) values[i] = mean + std * rng.NextNormal();
        Write(t, values);
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

    private static void Write(Tensor t, double[] values)
    {
        switch (t.DType)
        {
            case DType.Float64: t.CopyFrom<double>(values); break;
            case DType.Float32: t.CopyFrom<float>(Array.ConvertAll(values, v => (float)v)); break;
            default: throw new NotSupportedException($"cannot initialize a {t.DType.Name()} tensor with random values");
        }
    }
}
