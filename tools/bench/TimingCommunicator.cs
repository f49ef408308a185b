using System.Diagnostics;
using Vicreg.Engine;
using Vicreg.Engine.Distributed;

namespace Vicreg.Bench;

/// <summary>Passes every collective to the wrapped communicator and adds up the calls and the time spent
/// inside them (the transfer and the wait for the slowest rank alike), per kind of collective.</summary>
public sealed class TimingCommunicator(ICommunicator inner) : ICommunicator
{
    private readonly Dictionary<string, (long Ticks, long Calls)> _totals = [];

    public int Rank => inner.Rank;
    public int Size => inner.Size;
    public string Name => inner.Name;

    /// <summary>Ticks (<see cref="Stopwatch.Frequency"/> per second) and calls per collective since the last <see cref="Reset"/>.</summary>
    public IReadOnlyDictionary<string, (long Ticks, long Calls)> Totals => _totals;

    public double Seconds => _totals.Values.Sum(t => t.Ticks) / (double)Stopwatch.Frequency;
    public long Calls => _totals.Values.Sum(t => t.Calls);

    public void Reset() => _totals.Clear();

    public void AllReduceSum(Tensor tensor) => Timed("all_reduce", () => inner.AllReduceSum(tensor));
    /// <summary>Times the start and, separately, the wait: what the overlap leaves of the transfer.</summary>
    public PendingCollective StartAllReduceSum(Tensor tensor)
    {
        PendingCollective? pending = null;
        Timed("all_reduce_start", () => pending = inner.StartAllReduceSum(tensor));
        return new TimedWait(this, pending!);
    }

    private sealed class TimedWait(TimingCommunicator owner, PendingCollective inner) : PendingCollective
    {
        public override bool Poll() => inner.Poll();
        public override void Wait() => owner.Timed("all_reduce_wait", inner.Wait);
    }

    public void AllGather(Tensor local, Tensor gathered) => Timed("all_gather", () => inner.AllGather(local, gathered));
    public void Broadcast(Tensor tensor, int root) => Timed("broadcast", () => inner.Broadcast(tensor, root));
    public void Barrier() => Timed("barrier", inner.Barrier);
    public void Abort(int exitCode) => inner.Abort(exitCode);
    public void Dispose() => inner.Dispose();

    private void Timed(string kind, Action collective)
    {
        long start = Stopwatch.GetTimestamp();
        collective();
        long ticks = Stopwatch.GetTimestamp() - start;
        var (t, c) = _totals.GetValueOrDefault(kind);
        _totals[kind] = (t + ticks, c + 1);
    }
}
