using System.Globalization;

namespace Vicreg.Commands;

/// <summary>
/// The flags of one command, parsed as the official scripts spell them (<c>--batch-size 256</c> or
/// <c>--batch-size=256</c>; boolean flags stand alone; a repeated flag's last value wins, as argparse). Each command declares its flags with a default
/// and a help line; anything undeclared, malformed or out of range is a <see cref="UsageException"/>.
/// A command may also take positional arguments (file names), which come before its first flag, and a flag read
/// with <see cref="Repeated"/> takes every value up to the next flag (<c>--images a.jpg b.jpg</c>, as a shell glob gives them).
/// </summary>
public sealed class Arguments
{
    private readonly string _command;
    private readonly Dictionary<string, string?> _given = new(StringComparer.Ordinal);
    private readonly List<(string Flag, string Default, string Help)> _declared = [];
    private readonly HashSet<string> _switches = new(StringComparer.Ordinal);
    private readonly List<string> _positionals = [];
    private readonly List<(string Name, string Help)> _declaredPositionals = [];
    private readonly Dictionary<string, List<string?>> _every = new(StringComparer.Ordinal);
    private readonly List<(string Flag, string Value)> _furtherValues = [];
    private readonly HashSet<string> _manyValued = new(StringComparer.Ordinal);

    public Arguments(string command, IReadOnlyList<string> args)
    {
        _command = command;
        string? lastWithValue = null; // the flag whose value came last, which further values extend
        for (int i = 0; i < args.Count; i++)
        {
            string a = args[i];
            if (!a.StartsWith("--", StringComparison.Ordinal) && _given.Count == 0)
            {
                _positionals.Add(a); // RejectUnknown refuses those the command does not declare
                continue;
            }
            if (!a.StartsWith("--", StringComparison.Ordinal) && lastWithValue is not null)
            {
                _every[lastWithValue].Add(a); // a further value of the flag before: Repeated takes it, RejectUnknown refuses it otherwise
                _furtherValues.Add((lastWithValue, a));
                continue;
            }
            if (!a.StartsWith("--", StringComparison.Ordinal) || a.Length == 2)
                throw new UsageException($"{command}: unexpected argument '{a}' (flags start with --; see 'vicreg {command} --help')");
            string name = a[2..];
            string? value = null;
            int eq = name.IndexOf('=');
            if (eq >= 0)
            {
                value = name[(eq + 1)..];
                name = name[..eq];
            }
            else if (i + 1 < args.Count && !args[i + 1].StartsWith("--", StringComparison.Ordinal))
            {
                value = args[++i];
            }
            _given[name] = value; // a repeated flag: the last one wins, as with argparse in the official scripts
            if (!_every.TryGetValue(name, out var values)) _every[name] = values = [];
            values.Add(value); // ... except for the flags read with Repeated
            lastWithValue = value is null ? null : name;
        }
    }

    public bool HelpRequested => _given.ContainsKey("help") || _given.ContainsKey("h");

    /// <summary>The whole command line as typed, for the head of stats.txt.</summary>
    public static string CommandLine(string[] args) => "vicreg " + string.Join(' ', args.Select(a => a.Contains(' ') ? $"\"{a}\"" : a));

    /// <summary>Whether the command line names the flag (a flag that belongs to one mode of a command is refused in another).</summary>
    public bool Given(string flag) => _given.ContainsKey(flag);

    public string String(string flag, string defaultValue, string help)
    {
        Declare(flag, defaultValue, help);
        if (!_given.TryGetValue(flag, out var v)) return defaultValue;
        return v ?? throw new UsageException($"{_command}: --{flag} needs a value");
    }

    public string? OptionalString(string flag, string help)
    {
        Declare(flag, "", help);
        if (!_given.TryGetValue(flag, out var v)) return null;
        return v ?? throw new UsageException($"{_command}: --{flag} needs a value");
    }

    /// <summary>A flag that may be given several times: every value, in order (none when absent).</summary>
    public IReadOnlyList<string> Repeated(string flag, string help)
    {
        Declare(flag, "", help);
        _manyValued.Add(flag);
        if (!_every.TryGetValue(flag, out var values)) return [];
        return values.Select(v => v ?? throw new UsageException($"{_command}: --{flag} needs a value")).ToArray();
    }

    public int Int(string flag, int defaultValue, string help, int min = int.MinValue, int max = int.MaxValue)
        => ParseInt(flag, String(flag, defaultValue.ToString(CultureInfo.InvariantCulture), help), min, max);

    private int ParseInt(string flag, string s, int min, int max)
    {
        if (!int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v))
            throw new UsageException($"{_command}: --{flag} wants a whole number, got '{s}'");
        if (v < min || v > max)
            throw new UsageException($"{_command}: --{flag} must be {Range(min, max)}, got {v}");
        return v;
    }

    public double Double(string flag, double defaultValue, string help, double min = double.NegativeInfinity, double max = double.PositiveInfinity)
    {
        return ParseDouble(flag, String(flag, defaultValue.ToString("R", CultureInfo.InvariantCulture), help), min, max);
    }

    /// <summary>A whole-number flag without a default: null when absent (the help text says what absence means).</summary>
    public int? OptionalInt(string flag, string help, int min = int.MinValue, int max = int.MaxValue)
        => OptionalString(flag, help) is string s ? ParseInt(flag, s, min, max) : null;

    /// <summary>A number flag without a default: null when absent (the help text says what absence means).</summary>
    public double? OptionalDouble(string flag, string help, double min = double.NegativeInfinity, double max = double.PositiveInfinity)
        => OptionalString(flag, help) is string s ? ParseDouble(flag, s, min, max) : null;

    /// <summary>One number or a comma-separated list of them (<c>--lr-head 0.01,0.1,1</c>), each checked as <see cref="Double"/> checks one.</summary>
    public double[] DoubleList(string flag, double defaultValue, string help, double min = double.NegativeInfinity, double max = double.PositiveInfinity)
    {
        string s = String(flag, defaultValue.ToString("R", CultureInfo.InvariantCulture), help);
        var values = s.Split(',').Select(v => ParseDouble(flag, v.Trim(), min, max)).ToArray();
        if (values.Distinct().Count() != values.Length)
            throw new UsageException($"{_command}: --{flag} lists a value twice ('{s}')");
        return values;
    }

    private double ParseDouble(string flag, string s, double min, double max)
    {
        if (!double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) || !double.IsFinite(v))
            throw new UsageException($"{_command}: --{flag} wants a number, got '{s}'");
        if (v < min || v > max)
            throw new UsageException($"{_command}: --{flag} must be {Range(min, max)}, got {v.ToString(CultureInfo.InvariantCulture)}");
        return v;
    }

    public bool Switch(string flag, string help)
    {
        Declare(flag, "off", help);
        _switches.Add(flag);
        if (!_given.TryGetValue(flag, out var v)) return false;
        if (v is not null) throw new UsageException($"{_command}: --{flag} takes no value (got '{v}')");
        return true;
    }

    /// <summary>The positional argument at <paramref name="index"/> (declared for --help), or null when absent.</summary>
    public string? Positional(int index, string name, string help)
    {
        if (!_declaredPositionals.Any(p => p.Name == name)) _declaredPositionals.Add((name, help));
        return index < _positionals.Count ? _positionals[index] : null;
    }

    /// <summary>Call after reading every flag: rejects flags the command does not know, and positional
    /// arguments it does not take.</summary>
    public void RejectUnknown()
    {
        if (_positionals.Count > _declaredPositionals.Count)
            throw new UsageException($"{_command}: unexpected argument '{_positionals[_declaredPositionals.Count]}' (flags start with --; see 'vicreg {_command} --help')");
        foreach (var name in _given.Keys)
        {
            if (name is "help" or "h") continue;
            if (!_declared.Any(d => d.Flag == name))
                throw new UsageException($"{_command}: unknown flag --{name} (see 'vicreg {_command} --help')");
        }
        foreach (var (flag, value) in _furtherValues)
            if (!_manyValued.Contains(flag))
                throw new UsageException($"{_command}: unexpected argument '{value}' (--{flag} takes one value; flags start with --; see 'vicreg {_command} --help')");
    }

    /// <summary>The declared flags with defaults and help lines, for --help.</summary>
    public string Usage(string summary)
    {
        var w = new System.Text.StringBuilder();
        w.AppendLine($"usage: vicreg {_command}{string.Concat(_declaredPositionals.Select(p => " " + p.Name))} [flags]");
        w.AppendLine();
        w.AppendLine(summary);
        w.AppendLine();
        foreach (var (name, help) in _declaredPositionals) w.AppendLine($"  {name}: {help}");
        if (_declaredPositionals.Count > 0) w.AppendLine();
        int width = _declared.Count == 0 ? 0 : _declared.Max(d => d.Flag.Length) + 4;
        foreach (var (flag, def, help) in _declared)
        {
            string left = ("--" + flag).PadRight(width);
            string defText = _switches.Contains(flag) || def.Length == 0 ? "" : $" (default {def})";
            w.AppendLine($"  {left}{help}{defText}");
        }
        return w.ToString();
    }

    private void Declare(string flag, string defaultValue, string help)
    {
        if (!_declared.Any(d => d.Flag == flag)) _declared.Add((flag, defaultValue, help));
    }

    private static string Range(double min, double max) =>
        double.IsNegativeInfinity(min) ? $"at most {max}" :
        double.IsPositiveInfinity(max) || max == int.MaxValue ? $"at least {min}" : $"between {min} and {max}";
}
