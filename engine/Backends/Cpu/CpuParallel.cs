using System.Runtime.CompilerServices;

namespace Vicreg.Engine.Backends.Cpu;

/// <summary>The body of a parallel loop over [start, end): a struct, so a loop allocates nothing.</summary>
public interface IRangeBody
{
    /// <summary>Processes items [<paramref name="start"/>, <paramref name="end"/>); called once per chunk, possibly concurrently.</summary>
    void Run(int start, int end);
}

/// <summary>
/// A fixed set of persistent worker threads that split a loop of <c>count</c> items into
/// <see cref="ThreadCount"/> contiguous chunks, chunk t going to thread t (the caller runs chunk 0).
/// The split depends only on the count and the thread count, so kernels that reduce within a chunk and
/// combine chunks in order are deterministic for a given thread count. Calls from inside a running
/// loop run serially (no nested fan-out). Nothing is allocated per call.
/// </summary>
public static unsafe class CpuParallel
{
    private static Worker[] s_workers = [];
    private static int s_threadCount = 1;
    private static readonly object s_gate = new();
    [ThreadStatic] private static bool t_insideLoop;

    // The loop being run: a function pointer and a pointer to the caller's body struct on its stack.
    private static delegate*<void*, int, int, void> s_function;
    private static void* s_state;
    private static int s_count;
    private static int s_pending;

    static CpuParallel() => ThreadCount = DefaultThreadCount();

    /// <summary>VICREG_THREADS if set, else the number of cores.</summary>
    public static int DefaultThreadCount()
    {
        var env = Environment.GetEnvironmentVariable("VICREG_THREADS");
        return int.TryParse(env, out int n) && n > 0 ? n : Environment.ProcessorCount;
    }

    /// <summary>Threads a loop is split over (the caller plus ThreadCount - 1 workers); setting it stops and restarts the workers,
    /// and less than 1 throws <see cref="ArgumentOutOfRangeException"/>. Results of chunked reductions depend on it.</summary>
    public static int ThreadCount
    {
        get => s_threadCount;
        set
        {
            if (value < 1) throw new ArgumentOutOfRangeException(nameof(value), "at least one thread");
            lock (s_gate)
            {
                foreach (var w in s_workers) w.Stop();
                s_workers = new Worker[value - 1];
                for (int i = 0; i < s_workers.Length; i++) s_workers[i] = new Worker(i + 1);
                s_threadCount = value;
            }
        }
    }

    /// <summary>Runs body.Run over contiguous chunks of [0, count) on all threads and waits for all.
    /// <paramref name="body"/> must be a local (it is read through a pointer by the workers).</summary>
    public static void For<TBody>(int count, ref TBody body) where TBody : struct, IRangeBody
    {
        if (count <= 0) return;
        int threads = Math.Min(s_threadCount, count);
        if (threads == 1 || t_insideLoop)
        {
            body.Run(0, count);
            return;
        }
        lock (s_gate)
        {
            // Re-read under the lock: another thread may have changed ThreadCount (and the worker array) meanwhile.
            threads = Math.Min(s_threadCount, count);
            if (threads == 1)
            {
                body.Run(0, count);
                return;
            }
            s_function = &Invoke<TBody>;
            s_state = Unsafe.AsPointer(ref body);
            s_count = count;
            Volatile.Write(ref s_pending, threads - 1);
            for (int t = 1; t < threads; t++) s_workers[t - 1].Start(threads);
            t_insideLoop = true;
            try
            {
                body.Run(0, ChunkEnd(0, count, threads));
            }
            finally
            {
                t_insideLoop = false;
                var spin = new SpinWait();
                while (Volatile.Read(ref s_pending) > 0) spin.SpinOnce(sleep1Threshold: -1);
            }
            var failure = s_failure;
            s_failure = null;
            if (failure != null) throw new AggregateException("a parallel kernel failed", failure);
        }
    }

    /// <summary>First item of chunk <paramref name="chunk"/> when <paramref name="count"/> items are split into <paramref name="chunks"/> contiguous chunks.</summary>
    public static int ChunkStart(int chunk, int count, int chunks) => (int)((long)count * chunk / chunks);
    /// <summary>One past the last item of chunk <paramref name="chunk"/> of <paramref name="count"/> items in <paramref name="chunks"/> chunks.</summary>
    public static int ChunkEnd(int chunk, int count, int chunks) => (int)((long)count * (chunk + 1) / chunks);

    private static Exception? s_failure;

    private static void Invoke<TBody>(void* state, int start, int end) where TBody : struct, IRangeBody
        => Unsafe.AsRef<TBody>(state).Run(start, end);

    private sealed class Worker
    {
        private readonly int _index;
        private readonly ManualResetEventSlim _go = new(false, spinCount: 2000);
        private volatile bool _stopping;
        private int _chunks;

        public Worker(int index)
        {
            _index = index;
            // The event creates its lock object (24 bytes) the first time a wait has to block, on the waiting thread:
            // block once here, on the thread that builds the pool, so that a worker's first real block (which on a
            // loaded machine can come late, inside a training step) allocates nothing.
            _go.Wait(1);
            var thread = new Thread(Loop) { IsBackground = true, Name = $"vicreg-cpu-{index}" };
            thread.Start();
        }

        public void Start(int chunks)
        {
            _chunks = chunks;
            _go.Set();
        }

        public void Stop()
        {
            _stopping = true;
            _go.Set();
        }

        private void Loop()
        {
            t_insideLoop = true;
            while (true)
            {
                _go.Wait();
                _go.Reset();
                if (_stopping) return;
                try
                {
                    int start = ChunkStart(_index, s_count, _chunks), end = ChunkEnd(_index, s_count, _chunks);
                    if (end > start) s_function(s_state, start, end);
                }
                catch (Exception e)
                {
                    s_failure = e;
                }
                Interlocked.Decrement(ref s_pending);
            }
        }
    }
}
