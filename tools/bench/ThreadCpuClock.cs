using System.Runtime.InteropServices;

namespace Vicreg.Bench;

/// <summary>The calling thread's CPU time (Linux CLOCK_THREAD_CPUTIME_ID): a single-threaded kernel timed by it is not
/// charged for the time other processes on a shared machine hold its core.</summary>
public static partial class ThreadCpuClock
{
    private const int ThreadCpuTimeId = 3;

    private struct TimeSpec
    {
        public long Seconds, Nanoseconds;
    }

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clock, out TimeSpec time);

    public static bool IsAvailable => OperatingSystem.IsLinux();

    public static double Seconds()
    {
        ClockGetTime(ThreadCpuTimeId, out var t);
        return t.Seconds + t.Nanoseconds * 1e-9;
    }
}
