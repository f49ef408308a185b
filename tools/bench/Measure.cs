using System.Diagnostics;

namespace Vicreg.Bench;

/// <summary>Timing: warm-up runs, then the median of several repeats (robust to a noisy shared machine).</summary>
public static class Measure
{
    /// <summary>Median seconds per call of <paramref name="action"/>; each repeat runs it enough times to
    /// last at least <paramref name="minSeconds"/> so short kernels are not lost in timer noise.</summary>
    public static double MedianSeconds(Action action, int repeats, int warmups = 2, double minSeconds = 0.02)
    {
        for (int i = 0; i < warmups; i++) action();
        // Calibrate the inner count from one timed call.
        var sw = Stopwatch.StartNew();
        action();
        double once = Math.Max(sw.Elapsed.TotalSeconds, 1e-7);
        int inner = Math.Max(1, (int)Math.Ceiling(minSeconds / once));
        var samples = new double[repeats];
        for (int r = 0; r < repeats; r++)
        {
            sw.Restart();
            for (int i = 0; i < inner; i++) action();
            samples[r] = sw.Elapsed.TotalSeconds / inner;
        }
        Array.Sort(samples);
        return samples[repeats / 2];
    }

    /// <summary>Median seconds per call of several actions timed in alternation (A, B, C, A, B, C, ...), so
    /// that load from other processes on a shared machine falls on all alike.</summary>
    public static double[] MedianSecondsInterleaved(int repeats, params Action[] actions)
        => InterleavedSamples(repeats, false, actions).Select(s => s[repeats / 2]).ToArray();

    /// <summary>The fastest repeat of each action, timed in alternation: on a shared machine the least
    /// disturbed repeat is the closest to what the code can do, for both sides of a comparison alike.
    /// <paramref name="threadCpuTime"/>: time by the calling thread's CPU clock (for actions that run on it alone).</summary>
    public static double[] BestSecondsInterleaved(int repeats, bool threadCpuTime, params Action[] actions)
        => InterleavedSamples(repeats, threadCpuTime, actions).Select(s => s[0]).ToArray();

    /// <summary>Seconds per call of each action in each repeat, sorted ascending per action.</summary>
    private static double[][] InterleavedSamples(int repeats, bool threadCpuTime, Action[] actions)
    {
        for (int w = 0; w < 2; w++)
            foreach (var action in actions) action();
        var inner = actions.Select(a => InnerCount(a, 0.02)).ToArray();
        var samples = new double[actions.Length][];
        for (int i = 0; i < actions.Length; i++) samples[i] = new double[repeats];
        Func<double> clock = threadCpuTime ? ThreadCpuClock.Seconds : () => Stopwatch.GetTimestamp() / (double)Stopwatch.Frequency;
        for (int r = 0; r < repeats; r++)
        {
            for (int i = 0; i < actions.Length; i++)
            {
                double start = clock();
                for (int j = 0; j < inner[i]; j++) actions[i]();
                samples[i][r] = (clock() - start) / inner[i];
            }
        }
        foreach (var s in samples) Array.Sort(s);
        return samples;
    }

    private static int InnerCount(Action action, double minSeconds)
    {
        var sw = Stopwatch.StartNew();
        action();
        return Math.Max(1, (int)Math.Ceiling(minSeconds / Math.Max(sw.Elapsed.TotalSeconds, 1e-7)));
    }

    public static double GFlops(double flops, double seconds) => flops / seconds * 1e-9;
}
