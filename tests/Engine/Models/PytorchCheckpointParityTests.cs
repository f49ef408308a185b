using Vicreg.Engine.IO;
using Vicreg.Tests.App.Commands;
using Vicreg.Tests.Engine.IO;

namespace Vicreg.Tests.Engine.Models;

/// <summary>torchvision ResNets saved by torch.save (both formats; a plain state dict, or the official training
/// checkpoint's layout: {'epoch', 'model': DDP-wrapped VICReg with module.backbone.* and module.projector.*,
/// 'optimizer'}) and fed to `vicreg embed --weights X.pth`: our features equal torchvision's.</summary>
public class PytorchCheckpointParityTests
{
    [SkippableTheory]
    [Trait("Reference", "PyTorch")]
    [InlineData("resnet18", "imagenet", 3, 2, 40, 40, "zip", "plain", "read r.pth: zip format, 120 tensors")]
    [InlineData("resnet18", "imagenet", 3, 2, 33, 37, "legacy", "plain", "read r.pth: legacy format, 120 tensors")]
    [InlineData("resnet18", "cifar", 1, 3, 12, 10, "zip", "ddp", "read r.pth: zip format, 'model' entry, prefix 'module.backbone.' stripped, 120 tensors (9 others ignored)")]
    [InlineData("resnet18", "cifar", 3, 2, 9, 11, "legacy", "ddp", "read r.pth: legacy format, 'model' entry, prefix 'module.backbone.' stripped, 120 tensors (9 others ignored)")]
    [InlineData("resnet50", "cifar", 3, 2, 9, 9, "zip", "ddp", "read r.pth: zip format, 'model' entry, prefix 'module.backbone.' stripped, 318 tensors (9 others ignored)")]
    public void EmbedWithATorchSaveFileGivesTorchvisionsFeatures(string arch, string stem, int channels, int n, int h, int w,
        string format, string layout, string report)
    {
        PythonReference.SkipUnlessTorch(needTorchvision: true);
        using var dir = new TempFolder();
        PythonReference.RunScript("pytorch_checkpoint_reference.py", "resnet", arch, stem, channels.ToString(), n.ToString(),
            h.ToString(), w.ToString(), "13", format, layout, dir.File("r.pth"), dir.File("io.safetensors"));
        var result = CommandRunner.Run("embed", "--arch", arch, "--stem", stem, "--in-channels", channels.ToString(),
            "--weights", dir.File("r.pth"), "--input", dir.File("io.safetensors"), "--output", dir.File("y.safetensors"), "--device", "cpu");
        Assert.True(result.Code == 0, result.Err);
        Assert.True(result.Out.Contains(report + "\n", StringComparison.Ordinal), result.Out);

        using var expected = new SafetensorsReader(dir.File("io.safetensors"));
        using var ours = new SafetensorsReader(dir.File("y.safetensors"));
        using var scope = Vicreg.Engine.TensorScope.Begin();
        ResNetTests.AssertClose(expected.ReadTensor("features").ToArray<float>(), ours.ReadTensor("features").ToArray<float>(), 1e-4);
    }
}
