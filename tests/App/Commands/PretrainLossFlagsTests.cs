using Vicreg.Commands;
using Vicreg.Training;

namespace Vicreg.Tests.App.Commands;

/// <summary>`pretrain --loss`: the defaults each loss brings, and --help saying which flag belongs to which loss.</summary>
public class PretrainLossFlagsTests
{
    [Fact]
    public void EachLossBringsItsOfficialDefaults()
    {
        var vicreg = PretrainCommand.ParseOptions(new Arguments("pretrain", []));
        Assert.Equal(PretrainOptions.Vicreg, vicreg.Loss);
        Assert.Equal("2048-2048-2048", vicreg.Mlp);

        var barlow = PretrainCommand.ParseOptions(new Arguments("pretrain", ["--loss", "barlowtwins"]));
        Assert.Equal(PretrainOptions.BarlowTwins, barlow.Loss);
        Assert.Equal("8192-8192-8192", barlow.Mlp);
        Assert.Equal(0.0051, barlow.Lambd);
        Assert.Equal(0.2, barlow.LearningRateWeights);
        Assert.Equal(0.0048, barlow.LearningRateBiases);
        Assert.Equal(1e-6, barlow.WeightDecay);
        Assert.Equal(0.001, barlow.LarsEta);

        var given = PretrainCommand.ParseOptions(new Arguments("pretrain", ["--loss", "barlowtwins", "--mlp", "64-64", "--lambd", "0.01", "--learning-rate-biases", "0.001"]));
        Assert.Equal(("64-64", 0.01, 0.001), (given.Mlp, given.Lambd, given.LearningRateBiases));
    }

    [Fact]
    public void HelpMarksTheFlagsOfEachLoss()
    {
        var result = CommandRunner.Run("pretrain", "--help");
        Assert.Equal(0, result.Code);
        var lines = result.Out.Split('\n');
        string Line(string flag) => lines.Single(l => l.TrimStart().StartsWith(flag + " ", StringComparison.Ordinal));
        foreach (var flag in (string[])["--sim-coeff", "--std-coeff", "--cov-coeff", "--base-lr"]) Assert.Contains("[vicreg]", Line(flag));
        foreach (var flag in (string[])["--lambd", "--learning-rate-weights", "--learning-rate-biases"]) Assert.Contains("[barlowtwins]", Line(flag));
        Assert.Contains("(default 0.0048)", Line("--learning-rate-biases"));
        Assert.Contains("barlowtwins: 8192-8192-8192", Line("--mlp"));
        Assert.Contains("vicreg, or barlowtwins", Line("--loss"));
    }
}
