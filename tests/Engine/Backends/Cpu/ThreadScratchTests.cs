using Vicreg.Engine.Backends.Cpu.Gemm;

namespace Vicreg.Tests.Engine.Backends.Cpu;

/// <summary>A thread's scratch slot is reused, contents kept, while requests fit (up to the quarter of slack a grown
/// slot keeps), and grows only for a larger request, which <see cref="ThreadScratch.Growths"/> counts for the
/// benchmark's steady-step check. The count is process-wide and other tests may run beside this one, so a growth is
/// checked as "at least one more".</summary>
public unsafe class ThreadScratchTests
{
    [Fact]
    public void SlotIsReusedWhileRequestsFitAndGrowthIsCounted()
    {
        Exception? failure = null;
        // A thread of its own, so its slots start empty whatever ran before on the test runner's threads.
        var thread = new Thread(() =>
        {
            try { Check(); }
            catch (Exception e) { failure = e; }
        });
        thread.Start();
        thread.Join();
        if (failure is not null) throw failure;
    }

    private static void Check()
    {
        long start = ThreadScratch.Growths;
        float* first = ThreadScratch.Get<float>(ScratchSlot.ConvColumns, 1001);
        Assert.True(ThreadScratch.Growths >= start + 1);
        first[0] = 5;
        first[1000] = 7;
        foreach (long fits in new long[] { 13, 1001, 1201 })
        {
            Assert.True(first == ThreadScratch.Get<float>(ScratchSlot.ConvColumns, fits), $"{fits} floats did not reuse the slot");
            Assert.Equal(5, first[0]);
            Assert.Equal(7, first[1000]);
        }
        long beforeGrowth = ThreadScratch.Growths;
        float* grown = ThreadScratch.Get<float>(ScratchSlot.ConvColumns, 2 * 1001);
        Assert.True(ThreadScratch.Growths >= beforeGrowth + 1);
        grown[2001] = 3; // the whole request is writable
        Assert.Equal(3, grown[2001]);
    }
}
