namespace Vicreg.Engine.Inference;

/// <summary>
/// Features of one split held on the host: row-major [Count, Dimension] with a label per row, and which
/// sample of the dataset each row is (<see cref="Indices"/>): a sample that could not be read has no row,
/// so a row's features, label and sample always belong together.
/// </summary>
public sealed class FeatureSet(float[] values, int[] labels, int dimension, int[] indices)
{
    /// <summary>The features, row-major [<see cref="Count"/>, <see cref="Dimension"/>].</summary>
    public float[] Values { get; } = values;
    /// <summary>The class of each row (0 for unlabelled images).</summary>
    public int[] Labels { get; } = labels;
    /// <summary>The features per row.</summary>
    public int Dimension { get; } = dimension;
    /// <summary>The dataset index of each row, increasing.</summary>
    public int[] Indices { get; } = indices;
    /// <summary>The number of rows.</summary>
    public int Count => Labels.Length;

    /// <summary>The given rows (ascending row numbers of this set), with their labels and dataset indices.</summary>
    public FeatureSet Rows(IReadOnlyList<int> rows)
    {
        var values = new float[rows.Count * Dimension];
        var labels = new int[rows.Count];
        var indices = new int[rows.Count];
        for (int r = 0; r < rows.Count; r++)
        {
            int row = rows[r];
            if ((uint)row >= (uint)Count) throw new ArgumentOutOfRangeException(nameof(rows), row, $"a row of {Count}");
            Array.Copy(Values, (long)row * Dimension, values, (long)r * Dimension, Dimension);
            labels[r] = Labels[row];
            indices[r] = Indices[row];
        }
        return new FeatureSet(values, labels, Dimension, indices);
    }

    /// <summary>Per-column mean and standard deviation (population), accumulated in double.</summary>
    public (double[] Mean, double[] Std) ColumnStatistics()
    {
        var mean = new double[Dimension];
        var sq = new double[Dimension];
        for (int i = 0; i < Count; i++)
            for (int j = 0; j < Dimension; j++)
            {
                double v = Values[i * Dimension + j];
                mean[j] += v;
                sq[j] += v * v;
            }
        var std = new double[Dimension];
        for (int j = 0; j < Dimension; j++)
        {
            mean[j] /= Math.Max(1, Count);
            std[j] = Math.Sqrt(Math.Max(0, sq[j] / Math.Max(1, Count) - mean[j] * mean[j]));
        }
        return (mean, std);
    }

    /// <summary>(x - mean) / std per column; a constant column (std ~ 0) becomes zeros rather than NaN.</summary>
    public float[] Standardized(double[] mean, double[] std)
    {
        var result = new float[Values.Length];
        for (int i = 0; i < Count; i++)
            for (int j = 0; j < Dimension; j++)
            {
                double s = std[j] > 1e-6 ? std[j] : 1;
                result[i * Dimension + j] = (float)((Values[i * Dimension + j] - mean[j]) / s);
            }
        return result;
    }
}
