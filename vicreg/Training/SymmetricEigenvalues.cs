namespace Vicreg.Training;

/// <summary>
/// The eigenvalues of a real symmetric matrix, in float64 on the host, in ascending order: Householder
/// reduction to a tridiagonal matrix (Golub and Van Loan, algorithm 8.3.1: about (4/3) n³ flops, no
/// eigenvectors kept), then bisection on Sturm sequence counts for each eigenvalue (about 60 O(n) counts
/// each). Both steps are backward stable, so every eigenvalue is found to within a few units of rounding
/// times the matrix's norm. For the small Gram matrices of collapse diagnostics, not for the hot path.
/// </summary>
public static class SymmetricEigenvalues
{
    /// <summary>The eigenvalues of the n x n row-major symmetric <paramref name="matrix"/> (only its lower triangle is read), ascending.</summary>
    public static double[] Compute(ReadOnlySpan<double> matrix, int n)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        if (matrix.Length != n * n) throw new ArgumentException($"a {n} x {n} matrix needs {n * n} values, got {matrix.Length}");
        var (diagonal, offDiagonal) = Tridiagonalize(matrix, n);
        return TridiagonalEigenvalues(diagonal, offDiagonal);
    }

    /// <summary>
    /// Q^T A Q = T with Q a product of Householder reflections: returns T's diagonal [n] and sub-diagonal [n-1].
    /// Step k reflects x = A[k+1.., k] onto alpha e1 with alpha = -sign(x0) ||x|| (no cancellation in v = x - alpha e1),
    /// and updates the trailing block as A - v w^T - w v^T with p = beta A v, w = p - (beta p.v / 2) v, beta = 2 / v.v.
    /// </summary>
    public static (double[] Diagonal, double[] OffDiagonal) Tridiagonalize(ReadOnlySpan<double> matrix, int n)
    {
        var a = new double[n * n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j <= i; j++) a[i * n + j] = a[j * n + i] = matrix[i * n + j];
        var diagonal = new double[n];
        var offDiagonal = new double[Math.Max(0, n - 1)];
        var v = new double[n];
        var w = new double[n];
        for (int k = 0; k + 2 < n; k++)
        {
            double below = 0; // squares under the sub-diagonal entry
            for (int i = k + 2; i < n; i++) below += a[i * n + k] * a[i * n + k];
            double x0 = a[(k + 1) * n + k];
            if (below == 0)
            {
                offDiagonal[k] = x0; // already tridiagonal in this column
                continue;
            }
            double norm = Math.Sqrt(x0 * x0 + below);
            double alpha = x0 > 0 ? -norm : norm;
            int m = n - k - 1, first = k + 1;
            v[0] = x0 - alpha;
            for (int i = 1; i < m; i++) v[i] = a[(first + i) * n + k];
            double beta = 2 / (v[0] * v[0] + below);
            // p = beta A v over the trailing block (stored in w), then w = p - (beta p.v / 2) v.
            double pv = 0;
            for (int i = 0; i < m; i++)
            {
                var row = a.AsSpan((first + i) * n + first, m);
                double s = 0;
                for (int j = 0; j < m; j++) s += row[j] * v[j];
                w[i] = beta * s;
                pv += w[i] * v[i];
            }
            double half = beta * pv / 2;
            for (int i = 0; i < m; i++) w[i] -= half * v[i];
            for (int i = 0; i < m; i++)
            {
                var row = a.AsSpan((first + i) * n + first, m);
                double vi = v[i], wi = w[i];
                for (int j = 0; j < m; j++) row[j] -= vi * w[j] + wi * v[j];
            }
            offDiagonal[k] = alpha;
        }
        for (int i = 0; i < n; i++) diagonal[i] = a[i * n + i];
        if (n >= 2) offDiagonal[n - 2] = a[(n - 1) * n + n - 2];
        return (diagonal, offDiagonal);
    }

    /// <summary>The eigenvalues of the symmetric tridiagonal matrix, ascending, each by bisection inside the Gershgorin
    /// interval until the bracket is a few ulps of the matrix's norm wide.</summary>
    public static double[] TridiagonalEigenvalues(double[] diagonal, double[] offDiagonal)
    {
        int n = diagonal.Length;
        if (n == 0) return [];
        double low = double.PositiveInfinity, high = double.NegativeInfinity, largestSquare = 0;
        for (int i = 0; i < n; i++)
        {
            double radius = (i > 0 ? Math.Abs(offDiagonal[i - 1]) : 0) + (i < n - 1 ? Math.Abs(offDiagonal[i]) : 0);
            low = Math.Min(low, diagonal[i] - radius);
            high = Math.Max(high, diagonal[i] + radius);
            if (i < n - 1) largestSquare = Math.Max(largestSquare, offDiagonal[i] * offDiagonal[i]);
        }
        double scale = Math.Max(Math.Abs(low), Math.Abs(high));
        double tolerance = 2 * (Math.BitIncrement(scale) - scale) + double.Epsilon; // two ulps of the norm (and above 0 for a zero matrix)
        // The smallest pivot a count may divide by: keeps e^2 / q finite when q rounds to 0 (LAPACK's pivmin).
        double smallestPivot = 1e-290 * Math.Max(1, largestSquare);
        low -= tolerance;
        high += tolerance;
        var eigenvalues = new double[n];
        for (int index = 0; index < n; index++)
        {
            double lo = low, hi = high;
            while (hi - lo > tolerance)
            {
                double mid = 0.5 * (lo + hi);
                if (mid <= lo || mid >= hi) break;
                if (CountBelow(diagonal, offDiagonal, mid, smallestPivot) > index) hi = mid;
                else lo = mid;
            }
            eigenvalues[index] = 0.5 * (lo + hi);
        }
        return eigenvalues;
    }

    /// <summary>How many eigenvalues are below <paramref name="x"/>: the negative pivots of the LDL^T factorisation of T - x I (Sylvester's law of inertia).</summary>
    private static int CountBelow(double[] diagonal, double[] offDiagonal, double x, double smallestPivot)
    {
        int count = 0;
        double q = 1;
        for (int i = 0; i < diagonal.Length; i++)
        {
            q = diagonal[i] - x - (i > 0 ? offDiagonal[i - 1] * offDiagonal[i - 1] / q : 0);
            if (Math.Abs(q) < smallestPivot) q = -smallestPivot;
            if (q < 0) count++;
        }
        return count;
    }
}
