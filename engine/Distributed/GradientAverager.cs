using Vicreg.Engine.Autograd;

namespace Vicreg.Engine.Distributed;

/// <summary>
/// Averages the parameters' gradients over the ranks, as DistributedDataParallel: the gradients are packed
/// into flat buckets (the parameters in reverse order, roughly the order the backward completes them; a
/// first bucket of <see cref="FirstBucketElements"/> so that sending starts early, then about
/// <see cref="BucketElements"/> each), each bucket is summed over the ranks by one collective, scaled by
/// 1/size and unpacked. A parameter without a gradient on this rank contributes zeros (and receives the
/// average), so every rank calls the same collectives. The buckets are allocated once and reused.
/// <para>
/// Overlap: a parameter's gradient is complete once the backward has added into it as many times as in
/// the previous step (the forward uses each parameter a fixed number of times: twice in VICReg, once per
/// view), as DDP's static-graph mode learns from its first iteration. A hook on the tape counts the
/// additions; a bucket whose gradients are all complete is started at once (buckets start in their fixed
/// order, so every rank issues the same collectives in the same order) while the backward goes on, and
/// <see cref="Average"/> starts what is left and waits. The first step learns the counts and sends
/// everything after the backward. The sums are those of the blocking path, the same collective on the same
/// buffers, so the results are identical bit for bit; a gradient that changes after its bucket was sent
/// (a graph that changed between steps) is refused, never averaged stale.
/// </para>
/// </summary>
public sealed class GradientAverager : IDisposable
{
    /// <summary>DDP's default bucket is 25 MB: 6.5 M float32 elements.</summary>
    public const int BucketElements = 25 << 18;
    /// <summary>DDP's first bucket is 1 MB.</summary>
    public const int FirstBucketElements = 1 << 18;

    private sealed class Bucket(Tensor buffer, Tensor[] parameters, int[] indices)
    {
        public readonly Tensor Buffer = buffer;
        public readonly Tensor[] Parameters = parameters;
        /// <summary>Each parameter's index in the averager's counts.</summary>
        public readonly int[] Indices = indices;
        public int Complete;
        public PendingCollective? Pending;
    }

    private readonly ICommunicator _communicator;
    private readonly bool _overlap;
    private readonly List<Bucket> _buckets = [];
    private readonly Dictionary<Tensor, (int Bucket, int Index)> _slots = new(ReferenceEqualityComparer.Instance);
    // Additions into each parameter's gradient in this backward, and in the last one (-1: not learned yet).
    private readonly int[] _seen, _expected;
    private int _nextToStart;
    private readonly Action<Tensor>? _hook;

    /// <summary>Averages the gradients of <paramref name="parameters"/> over the ranks of <paramref name="communicator"/>, in buckets.</summary>
    /// <param name="parameters">The parameters, in the order the model registers them (buckets fill from the last).</param>
    /// <param name="communicator">The ranks to average over.</param>
    /// <param name="bucketElements">Elements per bucket.</param>
    /// <param name="firstBucketElements">Elements of the first bucket (the last parameters), sent as soon as the backward completes it.</param>
    /// <param name="overlap">Start buckets during the backward (false: all of them after it, the reference).</param>
    public GradientAverager(IEnumerable<Tensor> parameters, ICommunicator communicator, int bucketElements = BucketElements,
        int firstBucketElements = FirstBucketElements, bool overlap = true)
    {
        _communicator = communicator;
        var ordered = parameters.Reverse().ToList();
        var pending = new List<Tensor>();
        long elements = 0;
        int first = 0;
        foreach (var p in ordered)
        {
            long cap = _buckets.Count == 0 ? firstBucketElements : bucketElements;
            if (pending.Count > 0 && (elements + p.Numel > cap || pending[0].DType != p.DType || !ReferenceEquals(pending[0].Backend, p.Backend)))
            {
                Add(pending, elements, first);
                first += pending.Count;
                pending = [];
                elements = 0;
            }
            pending.Add(p);
            elements += p.Numel;
        }
        if (pending.Count > 0) Add(pending, elements, first);
        _seen = new int[ordered.Count];
        _expected = new int[ordered.Count];
        Array.Fill(_expected, -1);
        _overlap = overlap && communicator.Size > 1;
        if (_overlap)
        {
            _hook = Added;
            Tape.LeafGradientHook = _hook;
        }
    }

    private void Add(List<Tensor> parameters, long elements, int first)
    {
        var buffer = TensorScope.Detach(Tensor.Empty(new Shape(checked((int)elements)), parameters[0].DType, parameters[0].Backend));
        int bucket = _buckets.Count;
        for (int i = 0; i < parameters.Count; i++) _slots[parameters[i]] = (bucket, first + i);
        _buckets.Add(new Bucket(buffer, [.. parameters], [.. Enumerable.Range(first, parameters.Count)]));
    }

    /// <summary>The tape's hook: counts an addition into a gradient and starts the buckets that became complete.</summary>
    private void Added(Tensor leaf)
    {
        if (!_slots.TryGetValue(leaf, out var slot)) return;
        int seen = ++_seen[slot.Index];
        var bucket = _buckets[slot.Bucket];
        if (bucket.Pending is not null)
            throw new InvalidOperationException($"gradient averaging: the gradient of {leaf.Name ?? leaf.ToString()} changed after it was sent " +
                "(the backward adds into it more often than in the previous step)");
        if (seen == _expected[slot.Index]) bucket.Complete++;
        while (_nextToStart < _buckets.Count && _buckets[_nextToStart].Complete == _buckets[_nextToStart].Parameters.Length)
            Start(_buckets[_nextToStart++]);
        // MPI moves a transfer on only inside its calls: ask about the oldest one in flight.
        foreach (var b in _buckets)
            if (b.Pending is { } p && !p.Poll()) break;
    }

    private void Start(Bucket bucket)
    {
        var be = bucket.Buffer.Backend;
        long offset = 0;
        foreach (var p in bucket.Parameters)
        {
            if (p.Grad is { } g) be.Copy(g, 0, bucket.Buffer, offset, p.Numel);
            else using (var zeros = bucket.Buffer.NarrowView((int)offset, (int)p.Numel)) be.Fill(zeros, 0);
            offset += p.Numel;
        }
        bucket.Pending = _communicator.StartAllReduceSum(bucket.Buffer);
    }

    /// <summary>Replaces every gradient by its mean over the ranks (nothing to do for one rank). Call once after
    /// each backward, before the optimizer reads the gradients.</summary>
    public void Average()
    {
        if (_communicator.Size == 1) return;
        try
        {
            foreach (var bucket in _buckets)
            {
                if (bucket.Pending is null) Start(bucket);
                if (!_overlap) Finish(bucket);
            }
            if (_overlap) foreach (var bucket in _buckets) Finish(bucket);
            Array.Copy(_seen, _expected, _seen.Length);
        }
        finally
        {
            Array.Clear(_seen);
            _nextToStart = 0;
            foreach (var bucket in _buckets)
            {
                // A parameter the last backward left without a gradient is complete from the start (it sends zeros).
                bucket.Complete = bucket.Indices.Count(i => _expected[i] == 0);
                bucket.Pending = null;
            }
        }
    }

    private void Finish(Bucket bucket)
    {
        bucket.Pending!.Wait();
        var be = bucket.Buffer.Backend;
        be.Unary(UnaryOp.Scale, bucket.Buffer, bucket.Buffer, 1.0 / _communicator.Size);
        long offset = 0;
        foreach (var p in bucket.Parameters)
        {
            p.Grad ??= TensorScope.Detach(Tensor.Empty(p.Shape, p.DType, p.Backend));
            be.Copy(bucket.Buffer, offset, p.Grad, 0, p.Numel);
            offset += p.Numel;
        }
    }

    /// <summary>Stops listening to the tape's leaf gradients and frees the buckets' buffers.</summary>
    public void Dispose()
    {
        if (_hook is not null && Tape.LeafGradientHook == _hook) Tape.LeafGradientHook = null;
        foreach (var bucket in _buckets) bucket.Buffer.Dispose();
        _buckets.Clear();
    }
}
