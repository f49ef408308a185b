using System.Numerics;
using Vicreg.Engine;

namespace Vicreg.Training;

/// <summary>
/// RankMe (Garrido et al. 2023), the effective rank of a batch of embeddings Z [N, D], a collapse diagnostic:
/// <code>  p_k = s_k / sum_j s_j + eps,   RankMe = exp(-sum_k p_k log p_k)   (eps = 1e-7)</code>
/// over the min(N, D) singular values s_k of Z as it is (not centred). It is about 1 when every row lies on one
/// line and min(N, D) when all singular values are equal; a collapsing run shows it falling.
/// The singular values are the square roots of the eigenvalues of the smaller Gram matrix (Z Z^T when N &lt;= D,
/// else Z^T Z), formed in double on the host and solved by <see cref="SymmetricEigenvalues"/>. Squaring loses
/// the singular values below about 1e-8 of the largest into rounding, which moves RankMe by less than eps does.
/// Cost: N·D·min(N, D) multiply-adds for the Gram matrix and about min(N, D)³ for its eigenvalues: for logging, not every step.
/// </summary>
public static class RankMe
{
    public const double Epsilon = 1e-7;

    /// <summary>RankMe of a [N, D] tensor on any backend (copied to the host).</summary>
    public static double Of(Tensor z)
    {
        if (z.Rank != 2) throw new ArgumentException($"RankMe needs a [N, D] matrix, got {z.Shape}");
        double[] values = z.DType == DType.Float64 ? z.ToArray<double>() : Array.ConvertAll(z.ToArray<float>(), v => (double)v);
        return FromSingularValues(SingularValues(values, z.Shape[0], z.Shape[1]));
    }

    /// <summary>The min(n, d) singular values of the row-major [n, d] matrix <paramref name="z"/>, ascending.</summary>
    public static double[] SingularValues(ReadOnlySpan<double> z, int n, int d)
    {
        if (z.Length != (long)n * d) throw new ArgumentException($"a [{n}, {d}] matrix needs {(long)n * d} values, got {z.Length}");
        // The Gram matrix of the shorter side: rows of z (N <= D) or rows of z^T (N > D), dotted pairwise.
        bool rows = n <= d;
        int m = rows ? n : d, length = rows ? d : n;
        double[] vectors = rows ? z.ToArray() : Transposed(z, n, d);
        var gram = new double[m * m];
        for (int i = 0; i < m; i++)
            for (int j = 0; j <= i; j++)
                gram[i * m + j] = gram[j * m + i] = Dot(vectors.AsSpan(i * length, length), vectors.AsSpan(j * length, length));
        var eigenvalues = SymmetricEigenvalues.Compute(gram, m);
        return Array.ConvertAll(eigenvalues, l => Math.Sqrt(Math.Max(l, 0))); // rounding can leave a zero eigenvalue slightly negative
    }

    /// <summary>exp of the entropy of p_k = s_k / sum s + eps. All-zero singular values count as p_k = eps.</summary>
    public static double FromSingularValues(ReadOnlySpan<double> singularValues)
    {
        double sum = 0;
        foreach (double s in singularValues) sum += s;
        double entropy = 0;
        foreach (double s in singularValues)
        {
            double p = (sum > 0 ? s / sum : 0) + Epsilon;
            entropy -= p * Math.Log(p);
        }
        return Math.Exp(entropy);
    }

    private static double[] Transposed(ReadOnlySpan<double> z, int n, int d)
    {
        var t = new double[z.Length];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < d; j++) t[j * n + i] = z[i * d + j];
        return t;
    }

    private static double Dot(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        var sums = Vector<double>.Zero;
        int i = 0;
        for (; i + Vector<double>.Count <= a.Length; i += Vector<double>.Count)
            sums += new Vector<double>(a[i..]) * new Vector<double>(b[i..]);
        double s = Vector.Sum(sums);
        for (; i < a.Length; i++) s += a[i] * b[i];
        return s;
    }
}
