using Vicreg.Engine.Backends.Cpu;

namespace Vicreg.Tests.Engine.Backends.Cpu;

/// <summary>The CPU pool's workers put nothing on the GC heap of their own, not even the first time one of them has
/// to block while it waits for work (its event then needs a lock object: the pool creates it up front).</summary>
[Collection(ThreadCountCollection.Name)]
public sealed class CpuParallelWorkerTests
{
    [Fact]
    public void A_new_worker_allocates_nothing_when_it_first_blocks()
    {
        using var _ = new ThreadCountScope(2); // a new pool, its worker just started
        var first = new WorkerAllocatedBytes();
        CpuParallel.For(2, ref first); // item 0 on this thread, item 1 on the worker
        Thread.Sleep(200); // long past the worker's spinning: it is now blocked in its wait
        var second = new WorkerAllocatedBytes();
        CpuParallel.For(2, ref second);
        Assert.True(first.Ran && second.Ran, "the worker did not run its item");
        Assert.Equal(0, second.Bytes - first.Bytes);
    }

    private struct WorkerAllocatedBytes : IRangeBody
    {
        public long Bytes;
        public bool Ran;

        public void Run(int start, int end)
        {
            if (start != 1) return;
            Bytes = GC.GetAllocatedBytesForCurrentThread();
            Ran = true;
        }
    }
}
