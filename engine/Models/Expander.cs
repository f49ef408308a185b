using System.Globalization;
using Vicreg.Engine;
using Vicreg.Engine.Nn;

namespace Vicreg.Engine.Models;

/// <summary>
/// VICReg's expander (the official code's "projector") from a spec such as "8192-8192-8192", prefixed by
/// the representation size: Linear(bias) → BatchNorm1d → ReLU for each hidden layer, and a last Linear
/// without bias. A Sequential, so its names are the official ones ("0.weight", "1.running_mean", ...).
/// Barlow Twins' projector is the same with no bias in the hidden Linears either (<c>hiddenBias: false</c>):
/// the batch norm that follows each of them would cancel a bias anyway.
/// </summary>
public static class Expander
{
    /// <summary>The layer sizes of a spec; an <see cref="ArgumentException"/> quoting the spec when it is malformed.</summary>
    public static int[] ParseSpec(string spec)
    {
        if (string.IsNullOrWhiteSpace(spec)) throw new ArgumentException("the expander spec (--mlp) is empty; expected sizes such as 8192-8192-8192");
        var parts = spec.Split('-');
        var sizes = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!int.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out sizes[i]) || sizes[i] < 1)
                throw new ArgumentException($"the expander spec (--mlp) '{spec}' is malformed: '{parts[i]}' is not a positive whole number (expected sizes such as 8192-8192-8192)");
        }
        return sizes;
    }

    /// <summary>The expander for <paramref name="spec"/> on a representation of <paramref name="representationSize"/>, weights
    /// drawn from <paramref name="rng"/> as PyTorch's Linear draws them, in <paramref name="dtype"/> on <paramref name="backend"/>
    /// (the default device when null); <paramref name="hiddenBias"/> false leaves the bias out of the hidden Linear layers
    /// (Barlow Twins' projector).</summary>
    public static Sequential Create(int representationSize, string spec, ref Rng rng, DType dtype = DType.Float32, IBackend? backend = null,
        bool hiddenBias = true)
    {
        var sizes = ParseSpec(spec);
        var layers = new Sequential();
        int inFeatures = representationSize;
        for (int i = 0; i < sizes.Length - 1; i++)
        {
            layers.Add(new Linear(inFeatures, sizes[i], hiddenBias, ref rng, dtype, backend));
            layers.Add(new BatchNorm(sizes[i], dtype: dtype, backend: backend));
            layers.Add(new Relu());
            inFeatures = sizes[i];
        }
        layers.Add(new Linear(inFeatures, sizes[^1], bias: false, ref rng, dtype, backend));
        return layers;
    }

    /// <summary>The embedding size the expander produces (the spec's last number).</summary>
    public static int OutputSize(string spec) => ParseSpec(spec)[^1];
}
