using System.Runtime.InteropServices;
using Vicreg.Engine;
using Vicreg.Engine.Autograd;
using Vicreg.Engine.Nn;

namespace Vicreg.Engine.Inference;

/// <summary>
/// A backbone frozen for evaluation (eval mode, no tape): turns a loader batch [n, C, H, W] on the host
/// into features [n, dimension] on the backend. With no backbone the features are the pixels themselves,
/// flattened (the raw-pixel probe). On a device backend the batch goes through one reusable staging buffer.
/// </summary>
internal sealed class FrozenBackbone : IDisposable
{
    private readonly Module? _backbone;
    private readonly IBackend _backend;
    private readonly int _batchSize;
    private Tensor? _staging;

    public FrozenBackbone(Module? backbone, IBackend backend, int batchSize)
    {
        _backbone = backbone;
        _backend = backend;
        _batchSize = batchSize;
        backbone?.Eval();
    }

    /// <summary>Features of the batch; call it inside a <see cref="TensorScope"/>, which then owns the result.
    /// The result may share memory with <paramref name="batch"/> (raw pixels on the CPU).</summary>
    public Tensor Features(Tensor batch)
    {
        using var _ = Tape.NoGrad();
        var x = batch;
        int rows = x.Shape[0];
        if (!_backend.IsHostMemory)
        {
            _staging ??= TensorScope.Detach(Tensor.Empty(x.Shape.With(0, _batchSize), DType.Float32, _backend));
            var slot = rows == _batchSize ? _staging : _staging.NarrowView(0, rows);
            slot.CopyFrom<float>(x.AsSpan<float>());
            x = slot;
        }
        var f = _backbone is null ? x : _backbone.Forward(x);
        return f.Rank == 2 ? f : f.View(new Shape(rows, (int)(f.Numel / Math.Max(1, rows))));
    }

    /// <summary>Features [N, <paramref name="dimension"/>] on the host of a host tensor [N, C, H, W], a batch at a time;
    /// the batches are row views of the input and the output (no span over the whole tensor: it may exceed 2 GiB).
    /// The caller owns the result.</summary>
    public Tensor FeaturesOfRows(Tensor images, int dimension)
    {
        int n = images.Shape[0];
        var features = Tensor.Empty(new Shape(n, dimension), DType.Float32, Device.Cpu);
        for (int start = 0; start < n; start += _batchSize)
        {
            int count = Math.Min(_batchSize, n - start);
            using var scope = TensorScope.Begin();
            var y = Features(images.NarrowView(start, count));
            _backend.CopyToHost(y, MemoryMarshal.AsBytes(features.NarrowView(start, count).AsSpan<float>()));
        }
        return features;
    }

    public void Dispose()
    {
        _staging?.Dispose();
        _staging = null;
    }
}
