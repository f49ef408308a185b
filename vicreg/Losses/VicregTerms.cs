using Vicreg.Engine;

namespace Vicreg.Losses;

/// <summary>The three unweighted VICReg terms of one step (each summed over both branches where the
/// paper does: variance and covariance), as plain numbers for logging.</summary>
public readonly record struct VicregTerms(double Invariance, double Variance, double Covariance)
{
    public double Weighted(double simCoeff, double stdCoeff, double covCoeff) =>
        simCoeff * Invariance + stdCoeff * Variance + covCoeff * Covariance;

    /// <summary>Reads a [3] tensor (invariance, variance, covariance) without a GC allocation.</summary>
    public static VicregTerms Read(Tensor terms)
    {
        if (terms.Numel != 3) throw new ArgumentException($"VICReg terms tensor must have 3 elements, got {terms.Shape}");
        Span<double> d = stackalloc double[3];
        terms.ReadSmall(d);
        return new VicregTerms(d[0], d[1], d[2]);
    }
}

/// <summary>The output of <see cref="VicregLoss.Forward"/>: the weighted total (differentiable, one element)
/// and the unweighted terms as a [3] tensor on the same device (read them with <see cref="ReadTerms"/>; on
/// CUDA that waits for the step, so a trainer reads them only when it logs).</summary>
public readonly record struct VicregLossOutput(Tensor Loss, Tensor Terms)
{
    public VicregTerms ReadTerms() => VicregTerms.Read(Terms);
}

/// <summary>The gradient of each unweighted term with respect to each branch (for `vicreg loss-grad`
/// and tests), with the terms themselves.</summary>
public sealed record VicregTermGradients(VicregTerms Terms,
    Tensor InvarianceA, Tensor VarianceA, Tensor CovarianceA,
    Tensor InvarianceB, Tensor VarianceB, Tensor CovarianceB) : IDisposable
{
    public void Dispose()
    {
        foreach (var t in (ReadOnlySpan<Tensor>)[InvarianceA, VarianceA, CovarianceA, InvarianceB, VarianceB, CovarianceB]) t.Dispose();
    }
}
