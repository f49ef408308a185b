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
    {
        for (int w = 0; w < 2; w++)
            foreach (var action in actions) action();
        var inner = actions.Select(a => InnerCount(a, 0.02)).ToArray();
        var samples = new double[actions.Length][];
        for (int i = 0; i < actions.Length; i++) samples[i] = new double[repeats];
        var sw = new Stopwatch();
        for (int r = 0; r < repeats; r++)
        {
            for (int i = 0; i < actions.Length; i++)
            {
                sw.Restart();
                for (int j = 0; j < inner[i]; j++) actions[i]();
                samples[i][r] = sw.Elapsed.TotalSeconds / inner[i];
            }
        }
        return samples.Select(s => { Array.Sort(s); return s[repeats / 2]; }).ToArray();
    }

    private static int InnerCount(Action action, double minSeconds)
    {
        var sw = Stopwatch.StartNew();
        action();
        return Math.Max(1, (int)Math.Ceiling(minSeconds / Math.Max(sw.Elapsed.TotalSeconds, 1e-7)));
    }

    public static double GFlops(double flops, double seconds) => flops / seconds * 1e-9;
}
