using Vicreg.Engine;
using Vicreg.Engine.Distributed;

namespace Vicreg.Tests.Engine.Distributed;

/// <summary>
/// Several ranks inside one test process: each rank is a thread with its own communicator, the
/// collectives meet at a barrier and combine the ranks' buffers in rank order (in float64). The tape and
/// tensor scopes are per thread, so each rank runs a real forward and backward, and a finite-difference
/// check can perturb one rank's input and evaluate every rank's loss.
/// </summary>
public sealed class ThreadRanks
{
    private readonly Barrier _barrier;
    private readonly double[][] _slots;

    private ThreadRanks(int size)
    {
        _barrier = new Barrier(size);
        _slots = new double[size][];
    }

    /// <summary>Runs <paramref name="body"/> on <paramref name="size"/> threads, one rank each; rethrows the first failure.</summary>
    public static T[] Run<T>(int size, Func<ICommunicator, T> body)
    {
        var group = new ThreadRanks(size);
        var results = new T[size];
        var failures = new Exception?[size];
        var threads = Enumerable.Range(0, size).Select(r => new Thread(() =>
        {
            try { results[r] = body(new ThreadRank(group, r)); }
            catch (Exception e)
            {
                failures[r] = e;
                group._barrier.Dispose(); // the other ranks fail at their next collective instead of waiting
            }
        }, 16 << 20)).ToArray();
        foreach (var t in threads) t.Start();
        foreach (var t in threads) t.Join();
        var first = failures.FirstOrDefault(f => f is not null && f is not ObjectDisposedException) ?? failures.FirstOrDefault(f => f is not null);
        if (first is not null) throw new AggregateException("a rank failed", first);
        return results;
    }

    private static double[] Read(Tensor t) => t.DType == DType.Float64
        ? t.ToArray<double>()
        : Array.ConvertAll(t.ToArray<float>(), v => (double)v);

    private static void Write(Tensor t, ReadOnlySpan<double> values, long offset = 0)
    {
        if (t.DType == DType.Float64) values.CopyTo(t.AsSpan<double>()[(int)offset..]);
        else
        {
            var span = t.AsSpan<float>();
            for (int i = 0; i < values.Length; i++) span[(int)offset + i] = (float)values[i];
        }
    }

    private sealed class ThreadRank(ThreadRanks group, int rank) : ICommunicator
    {
        public int Rank => rank;
        public int Size => group._slots.Length;
        public string Name => $"threads, {Size} ranks";

        public void AllReduceSum(Tensor tensor)
        {
            group._slots[rank] = Read(tensor);
            group._barrier.SignalAndWait();
            var sum = new double[tensor.Numel];
            foreach (var slot in group._slots)
                for (int i = 0; i < sum.Length; i++) sum[i] += slot[i];
            group._barrier.SignalAndWait();
            Write(tensor, sum);
        }

        public void AllGather(Tensor local, Tensor gathered)
        {
            group._slots[rank] = Read(local);
            group._barrier.SignalAndWait();
            for (int r = 0; r < Size; r++) Write(gathered, group._slots[r], r * local.Numel);
            group._barrier.SignalAndWait();
        }

        public void Broadcast(Tensor tensor, int root)
        {
            if (rank == root) group._slots[root] = Read(tensor);
            group._barrier.SignalAndWait();
            Write(tensor, group._slots[root]);
            group._barrier.SignalAndWait();
        }

        public void Barrier() => group._barrier.SignalAndWait();

        public void Abort(int exitCode) => throw new InvalidOperationException($"rank {rank} aborted with {exitCode}");

        public void Dispose() { }
    }
}
