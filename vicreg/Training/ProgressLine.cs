using System.Diagnostics;

namespace Vicreg.Training;

/// <summary>
/// A one-line progress display on stderr: a bar, the position, the caller's figures and the rate.
/// On a terminal the line is redrawn in place at most a few times a second; when stderr is a file or a
/// pipe (CI, nohup) a full line is printed every <see cref="PlainInterval"/> so logs stay readable.
/// </summary>
public sealed class ProgressLine
{
    private readonly string _label;
    private readonly long _total;
    private readonly string _unit;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly bool _interactive = !Console.IsErrorRedirected;
    private TimeSpan? _lastDraw;
    private long _startPosition = -1;

    public static TimeSpan PlainInterval { get; set; } = TimeSpan.FromSeconds(10);

    public ProgressLine(string label, long total, string unit)
    {
        _label = label;
        _total = total;
        _unit = unit;
    }

    /// <summary>True when <see cref="Report"/> would draw now: callers that format figures every step ask
    /// first, so a step that draws nothing builds no string.</summary>
    public bool IsDue(long position)
    {
        var interval = _interactive ? TimeSpan.FromMilliseconds(250) : PlainInterval;
        return _lastDraw is not { } last || _clock.Elapsed - last >= interval || position >= _total;
    }

    /// <summary>Reports reaching <paramref name="position"/> (of the total) with the given figures.</summary>
    public void Report(long position, string figures, bool force = false)
    {
        if (_startPosition < 0) _startPosition = position - 1; // the rate counts from the first position reported
        if (!force && !IsDue(position)) return;
        var now = _clock.Elapsed;
        _lastDraw = now;
        double rate = (position - _startPosition) / Math.Max(1e-9, now.TotalSeconds);
        double remaining = rate > 0 ? (_total - position) / rate : 0;
        string bar = Bar(position, 24);
        string line = $"{_label} {bar} {position}/{_total} {figures} | {rate:F2} {_unit}/s, {Format(TimeSpan.FromSeconds(remaining))} left";
        if (_interactive)
        {
            int width = Math.Max(40, SafeWindowWidth() - 1);
            if (line.Length > width) line = line[..width];
            Console.Error.Write("\r" + line.PadRight(width));
            if (position >= _total) Console.Error.WriteLine();
        }
        else
        {
            Console.Error.WriteLine(line);
        }
    }

    /// <summary>Ends the line (on a terminal) so later output starts on a fresh one.</summary>
    public void Finish()
    {
        if (_interactive && _lastDraw is not null) Console.Error.WriteLine();
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
