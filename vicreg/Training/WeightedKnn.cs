using System.Runtime.InteropServices;
using Vicreg.Engine.Inference;
using Vicreg.Engine;

namespace Vicreg.Training;

/// <summary>
/// The weighted k-nearest-neighbour classifier of InstDisc (Wu et al. 2018), as solo-learn's
/// WeightedKNNClassifier runs it on frozen features: every feature is L2-normalized (x / max(||x||, 1e-12),
/// as F.normalize), each test feature's cosine similarity to every training feature is one GEMM row, the
/// k most similar training samples vote for their label with weight exp(similarity / T), and the classes
/// are ranked by their summed votes. Defaults k = 200 and T = 0.1; k above the training count means all of it.
/// Equal similarities keep the training sample that comes first. The similarities come from the backend's
/// GEMM, a block of test rows at a time (about 32 MiB of similarities per block); the selection and the
/// votes run on the host, the votes summed in double.
/// </summary>
public sealed class WeightedKnn
{
    /// <summary>Below this temperature exp(1 / T) approaches double's range.</summary>
    public const double MinTemperature = 0.01;

    /// <summary>Similarities per block of test rows (a float each); tests make it small to run several blocks.</summary>
    internal int SimilaritiesPerBlock { get; init; } = 1 << 23;

    public int K { get; }
    public double Temperature { get; }

    public WeightedKnn(int k = 200, double temperature = 0.1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        if (!(temperature >= MinTemperature) || !double.IsFinite(temperature))
            throw new ArgumentOutOfRangeException(nameof(temperature), $"the temperature must be a finite number of at least {MinTemperature}, got {temperature}");
        K = k;
        Temperature = temperature;
    }

    /// <summary>Top-1 / top-5 of the votes on <paramref name="test"/>. A true class no neighbour voted for ranks below
    /// every other class (it wins no tie); otherwise ties favour the true class, as in <see cref="LinearProbe.Accuracy"/>.</summary>
    public ProbeAccuracy Evaluate(FeatureSet train, FeatureSet test, int classes, IBackend backend, ProgressLine? progress = null,
        CancellationToken cancel = default)
    {
        var votes = Votes(train, test, classes, backend, progress, cancel);
        for (int i = 0; i < test.Count; i++)
        {
            ref double target = ref votes[i * classes + test.Labels[i]];
            if (target == 0) target = -1; // below every class that got a vote, and below the other unvoted ones
        }
        return LinearProbe.Accuracy<double>(votes, test.Labels, classes);
    }

    /// <summary>The summed votes [test.Count, classes], row-major: sum over the k nearest training samples of class c of exp(similarity / T).</summary>
    public double[] Votes(FeatureSet train, FeatureSet test, int classes, IBackend backend, ProgressLine? progress = null,
        CancellationToken cancel = default)
    {
        if (train.Dimension != test.Dimension)
            throw new ArgumentException($"train features have {train.Dimension} dimensions, test features {test.Dimension}");
        if (train.Count == 0) throw new ArgumentException("kNN needs at least one training feature");
        foreach (int label in train.Labels)
            if ((uint)label >= (uint)classes) throw new ArgumentException($"training label {label} is outside [0, {classes})");
        foreach (int label in test.Labels)
            if ((uint)label >= (uint)classes) throw new ArgumentException($"test label {label} is outside [0, {classes})");

        int d = train.Dimension, n = train.Count, k = Math.Min(K, n);
        var votes = new double[(long)test.Count * classes];
        if (test.Count == 0) return votes;
        int block = Math.Clamp(SimilaritiesPerBlock / n, 1, test.Count);
        var queries = Normalized(test);
        var similarities = new float[(long)block * n];
        var nearest = new NearestNeighbours(k);
        using var scope = TensorScope.Begin();
        var trainX = Tensor.FromArray<float>(Normalized(train), new Shape(n, d), backend);
        var blockX = Tensor.Empty(new Shape(block, d), DType.Float32, backend);
        var blockS = Tensor.Empty(new Shape(block, n), DType.Float32, backend);
        for (int start = 0; start < test.Count; start += block)
        {
            cancel.ThrowIfCancellationRequested();
            int rows = Math.Min(block, test.Count - start);
            using var x = blockX.NarrowView(0, rows);
            using var s = blockS.NarrowView(0, rows);
            x.CopyFrom<float>(queries.AsSpan(start * d, rows * d));
            backend.Gemm(false, true, 1, x, trainX, 0, s);
            backend.CopyToHost(s, MemoryMarshal.AsBytes(similarities.AsSpan(0, rows * n)));
            for (int r = 0; r < rows; r++)
            {
                nearest.Select(similarities.AsSpan(r * n, n));
                var row = votes.AsSpan((start + r) * classes, classes);
                for (int j = 0; j < k; j++) row[train.Labels[nearest.Indices[j]]] += Math.Exp(nearest.Similarities[j] / Temperature);
            }
            progress?.Report(start + rows, "");
        }
        progress?.Finish();
        return votes;
    }

    /// <summary>Each row divided by its Euclidean norm (at least 1e-12, so a zero row stays zero), the norm taken in double.</summary>
    public static float[] Normalized(FeatureSet features)
    {
        int d = features.Dimension;
        var result = new float[features.Values.Length];
        for (int i = 0; i < features.Count; i++)
        {
            var row = features.Values.AsSpan(i * d, d);
            double squares = 0;
            foreach (float v in row) squares += (double)v * v;
            double scale = 1 / Math.Max(Math.Sqrt(squares), 1e-12);
            for (int j = 0; j < d; j++) result[i * d + j] = (float)(row[j] * scale);
        }
        return result;
    }

    /// <summary>The k largest entries of a row and their positions (in no particular order): a min-heap of the
    /// best k so far, whose root is the worst of them, so most entries cost one comparison.</summary>
    private sealed class NearestNeighbours(int k)
    {
        public float[] Similarities { get; } = new float[k];
        public int[] Indices { get; } = new int[k];

        public void Select(ReadOnlySpan<float> row)
        {
            for (int j = 0; j < k; j++)
            {
                Similarities[j] = row[j];
                Indices[j] = j;
            }
            for (int j = k / 2 - 1; j >= 0; j--) SiftDown(j);
            // A later entry equal to the root has a larger index, so it loses the tie: strictly greater replaces.
            for (int j = k; j < row.Length; j++)
            {
                if (!(row[j] > Similarities[0])) continue;
                Similarities[0] = row[j];
                Indices[0] = j;
                SiftDown(0);
            }
        }

        /// <summary>Worse: a smaller similarity, or an equal one at a larger index.</summary>
        private bool Worse(int a, int b) =>
            Similarities[a] < Similarities[b] || (Similarities[a] == Similarities[b] && Indices[a] > Indices[b]);

        private void SiftDown(int i)
        {
            while (true)
            {
                int worst = i, left = 2 * i + 1, right = left + 1;
                if (left < k && Worse(left, worst)) worst = left;
                if (right < k && Worse(right, worst)) worst = right;
                if (worst == i) return;
                (Similarities[i], Similarities[worst]) = (Similarities[worst], Similarities[i]);
                (Indices[i], Indices[worst]) = (Indices[worst], Indices[i]);
                i = worst;
            }
        }
    }
}
