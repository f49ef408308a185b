namespace Vicreg.Engine.Distributed;

/// <summary>
/// Averages the parameters' gradients over the ranks after the backward, as DistributedDataParallel: the
/// gradients are packed in order into flat buckets of about <see cref="BucketElements"/> elements, each
/// bucket is all-reduced (one collective per bucket instead of one per tensor), scaled by 1/size and
/// unpacked. A parameter without a gradient on this rank contributes zeros (and receives the average),
/// so every rank calls the same collectives. The buckets are allocated once and reused every step.
/// </summary>
public sealed class GradientAverager : IDisposable
{
    /// <summary>DDP's default bucket is 25 MB: 6.5 M float32 elements.</summary>
    public const int BucketElements = 25 << 18;

    private readonly ICommunicator _communicator;
    private readonly List<(Tensor Bucket, Tensor[] Parameters)> _buckets = [];

    public GradientAverager(IEnumerable<Tensor> parameters, ICommunicator communicator, int bucketElements = BucketElements)
    {
        _communicator = communicator;
        var pending = new List<Tensor>();
        long elements = 0;
        foreach (var p in parameters)
        {
            if (pending.Count > 0 && (elements + p.Numel > bucketElements || pending[0].DType != p.DType || !ReferenceEquals(pending[0].Backend, p.Backend)))
            {
                Add(pending, elements);
                pending = [];
                elements = 0;
            }
            pending.Add(p);
            elements += p.Numel;
        }
        if (pending.Count > 0) Add(pending, elements);
    }

    private void Add(List<Tensor> parameters, long elements) =>
        _buckets.Add((TensorScope.Detach(Tensor.Empty(new Shape(checked((int)elements)), parameters[0].DType, parameters[0].Backend)), [.. parameters]));

    /// <summary>Replaces every gradient by its mean over the ranks (nothing to do for one rank).</summary>
    public void Average()
    {
        if (_communicator.Size == 1) return;
        foreach (var (bucket, parameters) in _buckets)
        {
            var be = bucket.Backend;
            long offset = 0;
            foreach (var p in parameters)
            {
                if (p.Grad is { } g) be.Copy(g, 0, bucket, offset, p.Numel);
                else using (var zeros = bucket.NarrowView((int)offset, (int)p.Numel)) be.Fill(zeros, 0);
                offset += p.Numel;
            }
            _communicator.AllReduceSum(bucket);
            be.Unary(UnaryOp.Scale, bucket, bucket, 1.0 / _communicator.Size);
            offset = 0;
            foreach (var p in parameters)
            {
                p.Grad ??= TensorScope.Detach(Tensor.Empty(p.Shape, p.DType, p.Backend));
                be.Copy(bucket, offset, p.Grad, 0, p.Numel);
                offset += p.Numel;
            }
        }
    }

    public void Dispose()
    {
        foreach (var (bucket, _) in _buckets) bucket.Dispose();
        _buckets.Clear();
    }
}
