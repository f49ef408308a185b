namespace Vicreg.Bench;

/// <summary>The image-pipeline section: decode + two-view augmentation beside torchvision (see <see cref="ImagePipelineBenchmark"/>).</summary>
public sealed class ImagesSection : IBenchmark
{
    public string Name => "images";
    public string Description => "JPEG decode + two-view VICReg augmentation (images/s) vs torchvision with PIL";

    public void Run(BenchOptions options) => ImagePipelineBenchmark.Run(options.Quick ? ["--images", "200", "--epochs", "2"] : []);
}
