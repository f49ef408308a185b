using Vicreg.Engine.IO;
using Vicreg.Engine.Models;
using Vicreg.Engine.Nn;

namespace Vicreg.Engine.Inference;

/// <summary>
/// A pretrained backbone from its file: safetensors, or a PyTorch .pth in torch.save's zip or legacy format, told
/// apart by content (<see cref="WeightsFile"/>); a torchvision state dict (its classifier fc.* is ignored) or a
/// checkpoint whose tensors carry a known prefix. The pickle inside a .pth is read by a restricted unpickler that runs
/// nothing.
/// </summary>
public static class BackboneFile
{
    /// <summary>
    /// Builds the backbone <paramref name="spec"/> describes on <paramref name="backend"/>, fills it from the file and
    /// puts it in evaluation mode. Failures are one-line exceptions: <see cref="ArgumentException"/> for an unknown
    /// architecture, <see cref="WeightsMismatchException"/> for weights of another network (every missing, unexpected
    /// and mis-shaped tensor counted), <see cref="WeightsFormatException"/> for a damaged or refused file,
    /// <see cref="NonFiniteValuesException"/> for NaN or infinite weights, <see cref="IOException"/> for an unreadable
    /// one; nothing stays allocated then.
    /// </summary>
    /// <returns>The backbone and what the load did (<see cref="StateDictLoad.ToString"/> says it in one line).</returns>
    public static (ResNet Backbone, StateDictLoad Load) Load(string path, BackboneSpec spec, IBackend backend)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(spec);
        var rng = new Rng(0); // every weight is replaced by the file's
        var backbone = Backbones.Create(spec.Arch, spec.Stem, spec.Width, spec.InChannels, ref rng, backend: backend);
        try
        {
            var load = StateDictFile.Load(backbone, path, spec.WeightsPrefix, name => name.StartsWith("fc.", StringComparison.Ordinal));
            backbone.Eval();
            return (backbone, load);
        }
        catch
        {
            Release(backbone);
            throw;
        }
    }

    /// <summary>Frees the native memory of a module's parameters and buffers.</summary>
    internal static void Release(Module module)
    {
        foreach (var (_, tensor) in module.StateDict()) tensor.Dispose();
    }
}
