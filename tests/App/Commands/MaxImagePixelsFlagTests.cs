using Vicreg.Commands;
using Vicreg.Engine.Data;
using Vicreg.Training;

namespace Vicreg.Tests.App.Commands;

/// <summary>Every command that reads image folders takes --max-image-pixels, defaulting to Pillow's limit.</summary>
public class MaxImagePixelsFlagTests
{
    [Fact]
    public void PretrainLinearEvalAndEmbedTakeTheFlag()
    {
        Assert.Equal(ImageLimits.DefaultMaxPixels, PretrainCommand.ParseOptions(new Arguments("pretrain", [])).MaxImagePixels);
        Assert.Equal(1000, PretrainCommand.ParseOptions(new Arguments("pretrain", ["--max-image-pixels", "1000"])).MaxImagePixels);
        Assert.Equal(89_478_485, ImageLimits.DefaultMaxPixels);
        foreach (var command in new[] { "linear-eval", "embed" })
        {
            var help = CommandRunner.Run(command, "--help");
            Assert.Equal(0, help.Code);
            Assert.Contains("--max-image-pixels", help.Out);
            Assert.Contains("--strict", help.Out);
        }
        CommandRunner.AssertUsageError(CommandRunner.Run("embed", "--max-image-pixels", "0", "--weights", "w", "--input", "x", "--output", "y"), "max-image-pixels");
    }
}
