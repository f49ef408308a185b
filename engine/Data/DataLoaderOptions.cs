namespace Vicreg.Engine.Data;

/// <summary>How a <see cref="DataLoader"/> batches and parallelizes.</summary>
public sealed record DataLoaderOptions
{
    /// <summary>Samples per batch (per shard).</summary>
    public int BatchSize { get; init; } = 256;
    /// <summary>Seeds both the epoch shuffle and every sample's augmentation stream.</summary>
    public ulong Seed { get; init; }
    /// <summary>A new seeded order every epoch (false: the data set's order).</summary>
    public bool Shuffle { get; init; } = true;
    /// <summary>Drop the last incomplete batch (pretraining wants equal batches; evaluation does not).</summary>
    public bool DropLast { get; init; } = true;
    /// <summary>Background threads that decode and augment (the --num-workers flag). 0 loads on the
    /// caller's thread when a batch is requested, as PyTorch's num_workers=0. The bytes of a batch do
    /// not depend on this number.</summary>
    public int NumWorkers { get; init; } = Math.Max(1, Environment.ProcessorCount);
    /// <summary>Batches prepared ahead of the one in use (ring of PrefetchBatches + 1 batch buffers).</summary>
    public int PrefetchBatches { get; init; } = 2;
    /// <summary>Data-parallel sharding, as PyTorch's DistributedSampler: of the epoch's one seeded order, this
    /// loader takes positions ShardIndex, ShardIndex + ShardCount, …, so batch k of every shard together is
    /// batch k of BatchSize · ShardCount samples of an unsharded loader. Augmentation stays keyed by
    /// (seed, epoch, sample index), so a sample looks the same whichever shard loads it.</summary>
    public int ShardIndex { get; init; }
    /// <summary>The number of shards (data-parallel ranks).</summary>
    public int ShardCount { get; init; } = 1;
    /// <summary>An unreadable image is an error instead of a skipped sample.</summary>
    public bool Strict { get; init; }
    /// <summary>The row of a skipped sample holds the next readable sample of the epoch's order, so batches stay
    /// full (training). Off (evaluation, features per file), the row is left out: <see cref="Batch.Indices"/>
    /// marks it -1, and no sample is ever read in place of another.</summary>
    public bool ReplaceUnreadable { get; init; } = true;
    /// <summary>Where skip warnings go (one line per unreadable file); null for silence.</summary>
    public TextWriter? Warnings { get; init; } = Console.Error;
    /// <summary>Told each skipped sample once, with the reason (the dataset index and the warning's text), for callers
    /// that keep a list of them; called under a lock, from the loader's threads.</summary>
    public Action<int, string>? Skipped { get; init; }
}
