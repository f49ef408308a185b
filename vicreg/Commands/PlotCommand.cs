using System.Text.Json;
using Vicreg.Training;

namespace Vicreg.Commands;

/// <summary>`vicreg plot`: the curves of one or more runs' stats.txt overlaid in one SVG (<see cref="StatsCurves"/>).</summary>
public sealed class PlotCommand : ICommand
{
    public string Name => "plot";
    public string Summary => "draw the stats.txt curves of one or more runs (loss, terms, std, RankMe, kNN, lr against step) as one SVG";

    public int Run(Arguments a, string commandLine)
    {
        string? output = a.OptionalString("output", "the SVG file to write, e.g. curves.svg");
        var expDirs = a.Repeated("exp-dir", "an experiment folder holding stats.txt; repeat it to overlay several runs");
        if (a.HelpRequested)
        {
            Console.WriteLine(a.Usage(Summary + ".\nOne panel per figure that any run logged, each run in its own color, named by its folder in the legend."));
            return 0;
        }
        a.RejectUnknown();
        if (expDirs.Count == 0) throw new UsageException($"{Name}: --exp-dir is required (a folder holding stats.txt; repeat it for several runs)");
        if (output is null) throw new UsageException($"{Name}: --output is required (an .svg file)");
        var runs = new List<(string, Dictionary<string, List<(double, double)>>)>();
        foreach (var dir in expDirs)
        {
            string stats = Path.Combine(dir, "stats.txt");
            if (!File.Exists(stats)) throw new UsageException($"{Name}: no stats.txt in {dir}");
            try
            {
                runs.Add((Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(dir))), StatsCurves.Read(stats)));
            }
            catch (JsonException e)
            {
                throw new UsageException($"{Name}: {stats} has a line that is not JSON ({e.Message.Split('.')[0]})");
            }
        }
        if (runs.All(r => r.Item2.Values.All(s => s.Count == 0)))
            throw new UsageException($"{Name}: no figures to draw: the stats.txt files hold no JSON lines with a step");
        try
        {
            File.WriteAllText(output, StatsCurves.Svg(runs));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"{Name}: cannot write {output}: {e.Message}");
        }
        Console.WriteLine($"{Name}: {runs.Count} run(s) -> {output}");
        return 0;
    }
}
