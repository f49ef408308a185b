using System.Runtime.ExceptionServices;

namespace Vicreg.Engine.Data;

/// <summary>
/// Batches a dataset through one transform per view (one for evaluation, two for VICReg) with worker
/// threads that decode and augment ahead of the training loop.
/// <para>
/// Memory: a ring of <c>PrefetchBatches + 1</c> batch buffers (aligned CPU tensors) is allocated once
/// and reused; each worker keeps its own decode buffers, up to <see cref="ImageLimits.RetainedBufferBytes"/> each
/// (larger ones are handed back after their image). Nothing is allocated per batch.
/// </para>
/// <para>
/// Unreadable samples: any exception while reading or transforming one sample (a corrupt file, an image over
/// the pixel limit, a FIFO, a decoder's bug) skips it, counted once in <see cref="SkippedSamples"/> with a warning
/// naming it, or stops the epoch when <see cref="DataLoaderOptions.Strict"/>; a <see cref="DatasetException"/>
/// that is not an <see cref="ImageDecodeException"/> (a missing library) always stops it.
/// </para>
/// <para>
/// Determinism: sample i of epoch e is augmented with <c>Rng.ForKey(Seed, e, i, view)</c> and written
/// to a fixed row of a fixed batch, so a batch's bytes are identical whatever the number of workers
/// and however the work happens to be scheduled. The epoch order is a seeded shuffle.
/// </para>
/// <para>
/// Lifetime: the tensors of a <see cref="Batch"/> stay valid until the next batch is requested; then
/// their buffer returns to the ring and is overwritten.
/// </para>
/// </summary>
public sealed class DataLoader : IDisposable
{
    private readonly IImageDataset _dataset;
    private readonly IImageTransform[] _transforms;
    private readonly DataLoaderOptions _options;
    private readonly Slot[] _ring;
    private readonly WorkerState[] _workerStates;
    private readonly int[] _order;
    private readonly int[] _sampleFloats;
    private readonly bool[] _knownBad;
    private readonly object _badLock = new();
    private long _skipped;
    private bool _epochRunning;

    /// <summary>A loader of <paramref name="dataset"/> whose batches hold one view per transform of <paramref name="transforms"/>.</summary>
    public DataLoader(IImageDataset dataset, IReadOnlyList<IImageTransform> transforms, DataLoaderOptions options)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        if (transforms.Count == 0) throw new ArgumentException("a DataLoader needs at least one transform (one per view)");
        if (options.BatchSize <= 0) throw new ArgumentOutOfRangeException(nameof(options), $"batch size {options.BatchSize}");
        if (options.NumWorkers < 0) throw new ArgumentOutOfRangeException(nameof(options), $"--num-workers {options.NumWorkers}");
        if (dataset.Count == 0) throw new DatasetException("the dataset holds no samples");
        if (options.ShardCount < 1 || options.ShardIndex < 0 || options.ShardIndex >= options.ShardCount)
            throw new ArgumentOutOfRangeException(nameof(options), $"shard {options.ShardIndex} of {options.ShardCount}");
        if (options.ShardCount > 1 && !options.DropLast) throw new ArgumentException("a sharded loader drops the last incomplete batch (DropLast)");
        if (options.DropLast && dataset.Count < options.BatchSize * options.ShardCount)
            throw new DatasetException($"the dataset holds {dataset.Count} samples, fewer than one batch of {options.BatchSize * options.ShardCount} (lower --batch-size)");
        _dataset = dataset;
        _transforms = [.. transforms];
        _options = options;
        _order = new int[dataset.Count];
        _knownBad = new bool[dataset.Count];
        _sampleFloats = new int[_transforms.Length];
        for (int v = 0; v < _transforms.Length; v++)
        {
            var t = _transforms[v];
            _sampleFloats[v] = t.Channels * t.Height * t.Width;
        }

        int slots = options.NumWorkers == 0 ? 1 : Math.Max(1, options.PrefetchBatches) + 1;
        _ring = new Slot[slots];
        for (int s = 0; s < slots; s++) _ring[s] = new Slot(_transforms, options.BatchSize);
        _workerStates = new WorkerState[Math.Max(1, options.NumWorkers)];
        for (int w = 0; w < _workerStates.Length; w++) _workerStates[w] = new WorkerState(this);
    }

    /// <summary>The data set it loads.</summary>
    public IImageDataset Dataset => _dataset;
    /// <summary>How it batches and parallelizes.</summary>
    public DataLoaderOptions Options => _options;
    /// <summary>Samples per batch.</summary>
    public int BatchSize => _options.BatchSize;

    /// <summary>Samples used per epoch (all of them, or whole batches only when DropLast).</summary>
    public int SamplesPerEpoch => _options.DropLast ? _dataset.Count / (BatchSize * _options.ShardCount) * BatchSize : _dataset.Count;

    /// <summary>Batches per epoch.</summary>
    public int BatchesPerEpoch => (SamplesPerEpoch + BatchSize - 1) / BatchSize;

    /// <summary>Distinct samples skipped so far because their image could not be decoded (for stats.txt).</summary>
    public long SkippedSamples => Interlocked.Read(ref _skipped);

    /// <summary>The dataset index of every position of the given epoch's order (a seeded shuffle, or identity).</summary>
    public void FillEpochOrder(int epoch, Span<int> order)
    {
        if (order.Length != _dataset.Count) throw new ArgumentException("order span must hold one entry per sample");
        for (int i = 0; i < order.Length; i++) order[i] = i;
        if (_options.Shuffle)
        {
            var rng = Rng.ForKey(_options.Seed, 0x5348554646_4C45UL /* "SHUFFLE" */, (ulong)epoch);
            rng.Shuffle(order);
        }
    }

    /// <summary>
    /// The batches of one epoch, produced by the workers while the caller uses the previous one. Enumerate
    /// one epoch at a time; stopping early (break or dispose) stops the workers. Starting at
    /// <paramref name="firstBatch"/> skips the earlier batches without decoding them (resuming a run
    /// mid-epoch): the batches that follow are the same as in a run that started at batch 0.
    /// </summary>
    public IEnumerable<Batch> Epoch(int epoch, int firstBatch = 0)
    {
        if (epoch < 0) throw new ArgumentOutOfRangeException(nameof(epoch));
        if (firstBatch < 0 || firstBatch > BatchesPerEpoch) throw new ArgumentOutOfRangeException(nameof(firstBatch));
        return RunEpoch(epoch, firstBatch);
    }

    private IEnumerable<Batch> RunEpoch(int epoch, int firstBatch)
    {
        if (_epochRunning) throw new InvalidOperationException("a DataLoader runs one epoch at a time: finish or dispose the previous enumeration first");
        _epochRunning = true;
        var run = new EpochRun(this, epoch, firstBatch);
        try
        {
            run.Start();
            for (int k = firstBatch; k < run.Batches; k++) // EpochRun starts its workers at firstBatch too
            {
                var batch = run.WaitFor(k);
                yield return batch;
                run.Release(k);
            }
        }
        finally
        {
            run.Stop();
            _epochRunning = false;
        }
    }

    /// <summary>Decodes sample at epoch position <paramref name="position"/> and writes all its views into row
    /// <paramref name="row"/> of <paramref name="slot"/>. A sample that fails in any way is skipped (counted and
    /// named once) or, when strict, stops the epoch; its row then holds the next readable sample of the epoch's
    /// order, or is left out (see <see cref="DataLoaderOptions.ReplaceUnreadable"/>).</summary>
    private void ProduceSample(WorkerState ws, int epoch, int position, Slot slot, int row)
    {
        int n = _dataset.Count;
        int orderPosition = position * _options.ShardCount + _options.ShardIndex;
        int attempts = _options.ReplaceUnreadable ? n : 1;
        for (int attempt = 0; attempt < attempts; attempt++)
        {
            int index = _order[(orderPosition + attempt) % n];
            if (Volatile.Read(ref _knownBad[index])) continue;
            try
            {
                WriteSample(ws, epoch, index, slot, row);
                return;
            }
            catch (Exception e) when (e is ImageDecodeException || e is not DatasetException)
            {
                // Whatever the exception, it concerns this one file: a decoder's bug or an outsized image must
                // not end a run, nor a corrupt file in a folder of a million.
                string reason = e is ImageDecodeException ? e.Message : $"{e.GetType().Name}: {e.Message}";
                if (_options.Strict)
                    throw new DatasetException($"{_dataset.Describe(index)}: {reason} (strict mode: unreadable images are errors)", e);
                MarkBad(index, reason);
            }
            finally
            {
                ws.ReleaseOutsizedBuffers();
            }
        }
        if (_options.ReplaceUnreadable) throw new DatasetException("no image of the dataset could be read");
        LeaveOut(slot, row);
    }

    private void WriteSample(WorkerState ws, int epoch, int index, Slot slot, int row)
    {
        ws.Begin(epoch, index);
        _dataset.Read(index, ws.Image, ref ws.Scratch, ws);
        for (int v = 0; v < _transforms.Length; v++)
        {
            var rng = Rng.ForKey(_options.Seed, (ulong)epoch, (ulong)index, (ulong)v);
            int floats = _sampleFloats[v];
            _transforms[v].Apply(ws.Image, ref rng, slot.ViewSpan(v).Slice(row * floats, floats));
        }
        slot.Labels.AsSpan<int>()[row] = _dataset.Label(index);
        slot.Indices[row] = index;
    }

    /// <summary>A row whose sample was skipped: zeros, label and index -1.</summary>
    private void LeaveOut(Slot slot, int row)
    {
        for (int v = 0; v < _transforms.Length; v++) slot.ViewSpan(v).Slice(row * _sampleFloats[v], _sampleFloats[v]).Clear();
        slot.Labels.AsSpan<int>()[row] = -1;
        slot.Indices[row] = -1;
    }

    private void MarkBad(int index, string reason)
    {
        lock (_badLock)
        {
            if (_knownBad[index]) return;
            Volatile.Write(ref _knownBad[index], true);
            _skipped++;
            _options.Warnings?.WriteLine($"warning: skipping unreadable image {_dataset.Describe(index)}: {reason}");
            _options.Skipped?.Invoke(index, reason);
        }
    }

    /// <summary>Frees the batch buffers.</summary>
    public void Dispose()
    {
        foreach (var slot in _ring) slot.Dispose();
    }

    /// <summary>One reusable batch buffer of the ring.</summary>
    private sealed class Slot : IDisposable
    {
        public readonly Tensor[] Views;
        public readonly Tensor Labels;
        public readonly int[] Indices; // dataset index of each row (-1: left out)
        public int Remaining;       // samples still to write for the batch assigned to this slot
        public int ReadyBatch = -1; // batch index whose samples are all written
        private readonly int _batchSize;
        private readonly Batch _full; // handed out again for every full batch this slot holds

        public Slot(IImageTransform[] transforms, int batchSize)
        {
            _batchSize = batchSize;
            Views = new Tensor[transforms.Length];
            for (int v = 0; v < transforms.Length; v++)
            {
                var t = transforms[v];
                Views[v] = TensorScope.Detach(Tensor.Empty(new Shape(batchSize, t.Channels, t.Height, t.Width), DType.Float32, Device.Cpu));
            }
            Labels = TensorScope.Detach(Tensor.Empty(new Shape(batchSize), DType.Int32, Device.Cpu));
            Indices = new int[batchSize];
            _full = new Batch(Views, Labels, Indices, 0, batchSize);
        }

        public Span<float> ViewSpan(int v) => Views[v].AsSpan<float>();

        /// <summary>The batch as handed to the caller: the whole buffers, or narrowed views for a short last batch.</summary>
        public Batch Wrap(int index, int count)
        {
            if (count == _batchSize)
            {
                _full.Index = index;
                return _full;
            }
            var views = new Tensor[Views.Length];
            for (int v = 0; v < views.Length; v++) views[v] = TensorScope.Detach(Views[v].NarrowView(0, count));
            return new Batch(views, TensorScope.Detach(Labels.NarrowView(0, count)), Indices, index, count);
        }

        public void Dispose()
        {
            foreach (var t in Views) t.Dispose();
            Labels.Dispose();
        }
    }

    /// <summary>A worker's reusable decode state; also the decode-scale chooser for its current sample.</summary>
    private sealed class WorkerState(DataLoader loader) : IDecodeScaleChooser
    {
        public readonly ImageBuffer Image = new();
        public byte[] Scratch = [];
        private int _epoch, _index;

        public void Begin(int epoch, int index)
        {
            _epoch = epoch;
            _index = index;
        }

        public void ReleaseOutsizedBuffers()
        {
            Image.ReleaseIfOutsized();
            Scratch = ImageLimits.Retainable(Scratch) ?? [];
        }

        public double MinimumScale(int sourceWidth, int sourceHeight)
        {
            double scale = 0;
            var transforms = loader._transforms;
            for (int v = 0; v < transforms.Length; v++)
            {
                var rng = Rng.ForKey(loader._options.Seed, (ulong)_epoch, (ulong)_index, (ulong)v);
                scale = Math.Max(scale, transforms[v].MinimumDecodeScale(sourceWidth, sourceHeight, rng));
            }
            return Math.Clamp(scale, 1e-6, 1);
        }
    }

    /// <summary>The coordination of one epoch: which batch each ring slot holds, the workers, errors.</summary>
    private sealed class EpochRun(DataLoader loader, int epoch, int firstBatch)
    {
        private readonly object _gate = new();
        private readonly int _samples = loader.SamplesPerEpoch;
        private readonly int _batchSize = loader.BatchSize;
        private readonly Slot[] _ring = loader._ring;
        private Thread[] _threads = [];
        private int _nextPosition = firstBatch * loader.BatchSize; // next epoch position a worker claims
        private int _released = firstBatch;                         // batches the consumer has finished with
        private volatile bool _stop;
        private ExceptionDispatchInfo? _error;
        private Batch? _current;

        public int Batches { get; } = loader.BatchesPerEpoch;

        private int BatchCount(int k) => Math.Min(_batchSize, _samples - k * _batchSize);

        public void Start()
        {
            loader.FillEpochOrder(epoch, loader._order);
            for (int k = _released; k < _released + _ring.Length; k++)
            {
                var slot = _ring[k % _ring.Length];
                slot.ReadyBatch = -1;
                slot.Remaining = k < Batches ? BatchCount(k) : 0;
            }
            int workers = loader._options.NumWorkers;
            if (workers == 0) return;
            _threads = new Thread[workers];
            for (int w = 0; w < workers; w++)
            {
                var state = loader._workerStates[w];
                _threads[w] = new Thread(() => WorkerLoop(state)) { IsBackground = true, Name = $"vicreg-data-{w}" };
                _threads[w].Start();
            }
        }

        private void WorkerLoop(WorkerState state)
        {
            try
            {
                while (!_stop)
                {
                    int position = Interlocked.Increment(ref _nextPosition) - 1;
                    if (position >= _samples) return;
                    int k = position / _batchSize;
                    var slot = _ring[k % _ring.Length];
                    lock (_gate)
                    {
                        // The slot still holds a batch the consumer has not released.
                        while (k >= _released + _ring.Length && !_stop) Monitor.Wait(_gate);
                    }
                    if (_stop) return;
                    loader.ProduceSample(state, epoch, position, slot, position - k * _batchSize);
                    if (Interlocked.Decrement(ref slot.Remaining) == 0)
                    {
                        lock (_gate)
                        {
                            slot.ReadyBatch = k;
                            Monitor.PulseAll(_gate);
                        }
                    }
                }
            }
            catch (Exception e)
            {
                lock (_gate)
                {
                    _error ??= ExceptionDispatchInfo.Capture(e);
                    _stop = true;
                    Monitor.PulseAll(_gate);
                }
            }
        }

        public Batch WaitFor(int k)
        {
            var slot = _ring[k % _ring.Length];
            int count = BatchCount(k);
            if (_threads.Length == 0)
            {
                var state = loader._workerStates[0];
                for (int i = 0; i < count; i++) loader.ProduceSample(state, epoch, k * _batchSize + i, slot, i);
            }
            else
            {
                lock (_gate)
                {
                    while (slot.ReadyBatch != k && _error is null) Monitor.Wait(_gate);
                }
                _error?.Throw();
            }
            _current = slot.Wrap(k, count);
            return _current;
        }

        public void Release(int k)
        {
            DisposeNarrowed();
            lock (_gate)
            {
                _released = k + 1;
                var slot = _ring[k % _ring.Length];
                slot.ReadyBatch = -1;
                int next = k + _ring.Length;
                slot.Remaining = next < Batches ? BatchCount(next) : 0;
                Monitor.PulseAll(_gate);
            }
        }

        private void DisposeNarrowed()
        {
            if (_current is { } b && b.Count != _batchSize)
            {
                foreach (var t in b.Views) t.Dispose();
                b.Labels.Dispose();
            }
            _current = null;
        }

        public void Stop()
        {
            DisposeNarrowed();
            lock (_gate)
            {
                _stop = true;
                Monitor.PulseAll(_gate);
            }
            foreach (var t in _threads) t.Join();
        }
    }
}
