namespace Vicreg.Engine.Data;

/// <summary>
/// One batch from a <see cref="DataLoader"/>: per view a CPU float tensor [B, C, H, W] and the Int32
/// labels [B]. The tensors belong to the loader's ring of reusable buffers: they stay valid until the
/// next batch is requested (or the epoch's enumeration ends), then the buffers are overwritten. Copy
/// (or move to the GPU) what must live longer; never dispose them.
/// </summary>
public sealed class Batch
{
    private readonly Tensor[] _views;
    private readonly int[] _indices;

    internal Batch(Tensor[] views, Tensor labels, int[] indices, int index, int count)
    {
        _views = views;
        _indices = indices;
        Labels = labels;
        Index = index;
        Count = count;
    }

    /// <summary>Views[v] is [Count, C, H, W] float32 for transform v.</summary>
    public IReadOnlyList<Tensor> Views => _views;
    /// <summary>The label of each row, int32 [Count].</summary>
    public Tensor Labels { get; }
    /// <summary>The dataset index of each row: which sample it holds. -1 marks a row left out because its
    /// sample could not be read (zeros, label -1; only when <see cref="DataLoaderOptions.ReplaceUnreadable"/> is off).</summary>
    public ReadOnlySpan<int> Indices => _indices.AsSpan(0, Count);
    /// <summary>Position of the batch within its epoch.</summary>
    public int Index { get; internal set; }
    /// <summary>Samples in the batch (the batch size, except a last incomplete batch when not dropped).</summary>
    public int Count { get; }
}
