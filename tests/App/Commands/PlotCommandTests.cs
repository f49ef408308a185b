using System.Globalization;
using System.Xml.Linq;
using Vicreg.Tests.Engine.IO;

namespace Vicreg.Tests.App.Commands;

/// <summary>`vicreg plot` on stats.txt files written by the test: one panel per logged figure, one polyline per run with
/// a point per logged step, placed where the values say.</summary>
public class PlotCommandTests
{
    private static void WriteStats(string dir, int steps, double scale, bool knn)
    {
        Directory.CreateDirectory(dir);
        var lines = new List<string> { "vicreg pretrain --epochs 3" };
        for (int s = 1; s <= steps; s++)
        {
            string loss = (scale * (30 - s)).ToString("R", CultureInfo.InvariantCulture);
            lines.Add($"{{\"epoch\":0,\"step\":{s},\"loss\":{loss},\"invariance\":0.5,\"lr\":{(0.1 * s).ToString(CultureInfo.InvariantCulture)},\"rankme_embedding\":{s + 3}}}");
            if (knn && s % 3 == 0) lines.Add($"{{\"epoch\":0,\"step\":{s},\"knn_top1\":{50 + s},\"knn_seconds\":1.5}}");
        }
        lines.Insert(4, "vicreg pretrain --epochs 3   # resumed");
        File.WriteAllLines(Path.Combine(dir, "stats.txt"), lines);
    }

    [Fact]
    public void OverlaysEveryRunInOnePanelPerFigure()
    {
        using var dir = new TempFolder();
        WriteStats(dir.File("runA"), 7, 1, knn: true);
        WriteStats(dir.File("runB"), 11, 2, knn: false);
        var result = CommandRunner.Run("plot", "--exp-dir", dir.File("runA"), "--exp-dir", dir.File("runB"), "--output", dir.File("curves.svg"));
        Assert.True(result.Code == 0, result.Err);
        var svg = XDocument.Load(dir.File("curves.svg"));
        XNamespace ns = "http://www.w3.org/2000/svg";
        var panels = svg.Descendants(ns + "g").ToDictionary(g => (string)g.Attribute("id")!);
        Assert.Equal(["loss", "invariance", "rankme_embedding", "knn_top1", "lr"], panels.Keys); // figures nobody logged are left out
        Assert.Contains(svg.Descendants(ns + "text"), t => t.Value == "runA");
        Assert.Contains(svg.Descendants(ns + "text"), t => t.Value == "runB");
        (double X, double Y)[] Points(string panel, int run) =>
            panels[panel].Elements(ns + "polyline").Single(p => (string)p.Attribute("class")! == $"run{run}").Attribute("points")!.Value
                .Split(' ').Select(p => p.Split(',')).Select(p => (double.Parse(p[0], CultureInfo.InvariantCulture), double.Parse(p[1], CultureInfo.InvariantCulture))).ToArray();
        Assert.Equal(7, Points("loss", 0).Length);
        Assert.Equal(11, Points("loss", 1).Length);
        Assert.Equal(2, Points("knn_top1", 0).Length);
        Assert.DoesNotContain(panels["knn_top1"].Elements(ns + "polyline"), p => (string)p.Attribute("class")! == "run1");
        // Steps run left to right; run B's loss starts highest (58) and falls, so it starts at the panel's top and ends lowest.
        var b = Points("loss", 1);
        Assert.True(b.Zip(b.Skip(1)).All(p => p.Second.X > p.First.X && p.Second.Y > p.First.Y), "a falling loss must go down the panel");
        var a = Points("loss", 0);
        Assert.True(a[0].Y > b[0].Y, "run A's first loss (29) is below run B's (58)");
        Assert.Equal(b.Min(p => p.Y), b[0].Y);
    }

    [Fact]
    public void MistakesAreOneLineAndExitCodeTwo()
    {
        using var dir = new TempFolder();
        CommandRunner.AssertUsageError(CommandRunner.Run("plot", "--output", dir.File("c.svg")), "--exp-dir is required");
        CommandRunner.AssertUsageError(CommandRunner.Run("plot", "--exp-dir", dir.File("none"), "--output", dir.File("c.svg")), "no stats.txt");
        Directory.CreateDirectory(dir.File("bad"));
        File.WriteAllLines(dir.File("bad/stats.txt"), ["vicreg pretrain", "{\"step\": 1, \"loss\": "]);
        CommandRunner.AssertUsageError(CommandRunner.Run("plot", "--exp-dir", dir.File("bad"), "--output", dir.File("c.svg")), "not JSON");
        Directory.CreateDirectory(dir.File("empty"));
        File.WriteAllLines(dir.File("empty/stats.txt"), ["vicreg pretrain"]);
        CommandRunner.AssertUsageError(CommandRunner.Run("plot", "--exp-dir", dir.File("empty"), "--output", dir.File("c.svg")), "no figures");
        Assert.False(File.Exists(dir.File("c.svg")));
        Assert.Contains("--exp-dir", CommandRunner.Run("plot", "--help").Out);
    }
}
