using Vicreg.Engine.IO.Pytorch;

namespace Vicreg.Engine.IO;

/// <summary>Opens a weights file by what it holds, not by its name: torch.save's zip or legacy format
/// (by their magic bytes), else safetensors (whose reader says clearly when it is not that either).</summary>
public static class WeightsFile
{
    /// <summary>Opens <paramref name="path"/> as a PyTorch checkpoint or a safetensors file, by its first bytes; the caller disposes it.</summary>
    public static ITensorFile Open(string path)
    {
        Span<byte> head = stackalloc byte[4];
        int n;
        using (var stream = File.OpenRead(path)) n = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        return PytorchCheckpoint.HasMagic(head[..n]) ? new PytorchCheckpoint(path) : new SafetensorsReader(path);
    }
}
