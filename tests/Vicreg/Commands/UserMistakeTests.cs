using System.IO.Compression;

namespace Vicreg.Tests.Commands;

/// <summary>A user's mistake gives one clear line on stderr and exit code 2, never a stack trace.</summary>
public class UserMistakeTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vicreg-cli-").FullName;

    private static (int Code, string Error) Run(params string[] args)
    {
        var error = new StringWriter();
        var previousError = Console.Error;
        var previousOut = Console.Out;
        Console.SetError(error);
        Console.SetOut(TextWriter.Null);
        try
        {
            return (global::Vicreg.Program.Main(args), error.ToString());
        }
        finally
        {
            Console.SetError(previousError);
            Console.SetOut(previousOut);
        }
    }

    private static void AssertOneLine(string error, string mustContain)
    {
        var lines = error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"expected one line, got:\n{error}");
        Assert.StartsWith("vicreg: ", lines[0]);
        Assert.Contains(mustContain, lines[0]);
        Assert.DoesNotContain("   at ", error);
    }

    [Theory]
    [InlineData("--batch-size must be at least 2", "pretrain", "--batch-size", "1")]
    [InlineData("--mlp", "pretrain", "--mlp", "8192-x-8192")]
    [InlineData("unknown --arch 'resnet7'", "pretrain", "--arch", "resnet7")]
    [InlineData("unknown flag --bogus", "pretrain", "--bogus", "3")]
    [InlineData("--epochs wants a whole number", "pretrain", "--epochs", "ten")]
    [InlineData("--device must be cpu, cuda or auto", "pretrain", "--device", "gpu", "--dataset", "mnist", "--data-dir", "/")]
    [InlineData("no CUDA device found", "pretrain", "--device", "cuda")]
    [InlineData("weights file not found", "linear-eval", "--weights", "/no/such/file.safetensors")]
    [InlineData("unknown command 'pretrian'", "pretrian")]
    public void FlagMistakes(string message, params string[] args)
    {
        var (code, error) = Run(args);
        Assert.Equal(2, code);
        AssertOneLine(error, message);
    }

    [Fact]
    public void MissingDatasetFolder()
    {
        var (code, error) = Run("pretrain", "--dataset", "mnist", "--data-dir", Path.Combine(_dir, "absent"), "--device", "cpu");
        Assert.Equal(2, code);
        AssertOneLine(error, "absent");
    }

    [Fact]
    public void WrongIdxMagic()
    {
        // A file with the images' name whose magic number is the labels' (2049).
        foreach (var name in new[] { "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz" })
        {
            using var file = new GZipStream(File.Create(Path.Combine(_dir, name)), CompressionLevel.Fastest);
            file.Write([0, 0, 8, 1, 0, 0, 0, 3, 7, 8, 9]);
        }
        var (code, error) = Run("pretrain", "--dataset", "mnist", "--data-dir", _dir, "--device", "cpu");
        Assert.Equal(2, code);
        AssertOneLine(error, "2049");
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
