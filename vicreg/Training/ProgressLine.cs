using System.Diagnostics;

namespace Vicreg.Training;

/// <summary>
/// A one-line progress display on stderr: a bar, the position, the caller's figures and the rate.
/// On a terminal the line is redrawn in place at most a few times a second; when stderr is a file or a
/// pipe (CI, nohup) a full line is printed every <see cref="PlainInterval"/> so logs stay readable.
/// The total is what this run will do (a run capped by --max-steps ends at the cap) and the positions
/// count from where it starts (a resumed run's first step). The rate is measured over the last
/// <see cref="RateWindow"/> of the run, and only once <see cref="MinimumRateInterval"/> has passed:
/// a rate over a near-zero interval is noise (a batch that arrived prefetched, a first step that happened
/// to be quick), so until then the line says "-" rather than a number it cannot stand behind.
/// </summary>
public sealed class ProgressLine
{
    private readonly string _label;
    private readonly long _total;
    private readonly string _unit;
    private readonly Func<TimeSpan> _now;
    private readonly bool _interactive;
    private readonly TextWriter? _output;
    // (time, position) of the reports within the rate window, plus the last one before it; first the run's start.
    private readonly Queue<(TimeSpan Time, long Position)> _samples = new();
    private TimeSpan? _lastDraw;

    public static TimeSpan PlainInterval { get; set; } = TimeSpan.FromSeconds(10);
    public static readonly TimeSpan RateWindow = TimeSpan.FromSeconds(30);
    public static readonly TimeSpan MinimumRateInterval = TimeSpan.FromSeconds(1);

    /// <param name="total">the position at which this run ends</param>
    /// <param name="start">the position this run starts from (0, or a resumed run's step)</param>
    public ProgressLine(string label, long total, string unit, long start = 0)
        : this(label, total, unit, start, Clock(), !Console.IsErrorRedirected, null)
    {
    }

    /// <summary>For tests: a given clock, a given display mode, and a writer instead of stderr.</summary>
    internal ProgressLine(string label, long total, string unit, long start, Func<TimeSpan> now, bool interactive, TextWriter? output)
    {
        _label = label;
        _total = total;
        _unit = unit;
        _now = now;
        _interactive = interactive;
        _output = output;
        _samples.Enqueue((now(), start));
    }

    private static Func<TimeSpan> Clock()
    {
        var watch = Stopwatch.StartNew();
        return () => watch.Elapsed;
    }

    private TextWriter Output => _output ?? Console.Error;

    /// <summary>True when <see cref="Report"/> would draw now: callers that format figures every step ask
    /// first, so a step that draws nothing builds no string.</summary>
    public bool IsDue(long position)
    {
        var interval = _interactive ? TimeSpan.FromMilliseconds(250) : PlainInterval;
        return _lastDraw is not { } last || _now() - last >= interval || position >= _total;
    }

    /// <summary>Reports reaching <paramref name="position"/> (of the total) with the given figures.</summary>
    public void Report(long position, string figures, bool force = false)
    {
        if (!force && !IsDue(position)) return;
        var now = _now();
        _lastDraw = now;
        _samples.Enqueue((now, position));
        // Keep the last sample at or before the window's start, so the window spans RateWindow once the run is that long.
        while (_samples.Count > 2 && now - _samples.ElementAt(1).Time >= RateWindow) _samples.Dequeue();
        var (since, from) = _samples.Peek();
        var interval = now - since;
        string speed = interval >= MinimumRateInterval && position > from
            ? Speed((position - from) / interval.TotalSeconds, position)
            : $"- {_unit}/s";
        string line = $"{_label} {Bar(position, 24)} {position}/{_total} {figures} | {speed}";
        if (_interactive)
        {
            int width = Math.Max(40, SafeWindowWidth() - 1);
            if (line.Length > width) line = line[..width];
            Output.Write("\r" + line.PadRight(width));
            if (position >= _total) Output.WriteLine();
        }
        else
        {
            Output.WriteLine(line);
        }
    }

    private string Speed(double rate, long position) =>
        $"{rate:F2} {_unit}/s, {Format(TimeSpan.FromSeconds(Math.Max(0, _total - position) / rate))} left";

    /// <summary>Ends the line (on a terminal) so later output starts on a fresh one.</summary>
    public void Finish()
    {
        if (_interactive && _lastDraw is not null) Output.WriteLine();
    }

    private string Bar(long position, int width)
    {
        int filled = _total <= 0 ? width : (int)Math.Clamp(position * width / _total, 0, width);
        return "[" + new string('#', filled) + new string('.', width - filled) + "]";
    }

    private static int SafeWindowWidth()
    {
        try { return Console.WindowWidth > 0 ? Console.WindowWidth : 120; }
        catch (IOException) { return 120; }
    }

    public static string Format(TimeSpan t) =>
        t.TotalHours >= 1 ? $"{(int)t.TotalHours}h{t.Minutes:D2}m" : t.TotalMinutes >= 1 ? $"{t.Minutes}m{t.Seconds:D2}s" : $"{t.Seconds}s";
}
