using Vicreg.Commands;

namespace Vicreg.Tests.App.Commands;

public class ArgumentsTests
{
    [Fact]
    public void FlagsParseInBothSpellingsAndTheLastRepeatWins()
    {
        var a = new Arguments("pretrain", ["--epochs", "3", "--base-lr=0.5", "--strict", "--epochs", "7"]);
        Assert.Equal(7, a.Int("epochs", 100, "epochs", 1));
        Assert.Equal(0.5, a.Double("base-lr", 0.2, "lr"));
        Assert.True(a.Switch("strict", "strict"));
        Assert.Equal(256, a.Int("batch-size", 256, "batch"));
        a.RejectUnknown();
    }

    [Fact]
    public void HelpListsEveryFlagWithItsDefault()
    {
        var a = new Arguments("pretrain", ["--help"]);
        a.Int("epochs", 100, "training epochs", 1);
        a.Switch("strict", "stop at an unreadable image");
        Assert.True(a.HelpRequested);
        var usage = a.Usage("summary line");
        Assert.Contains("--epochs", usage);
        Assert.Contains("(default 100)", usage);
        Assert.Contains("--strict", usage);
    }
}
