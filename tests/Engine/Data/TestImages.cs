using Vicreg.Engine;

namespace Vicreg.Tests.Engine.Data;

/// <summary>Random test content (never zeros): smooth gradients plus noise, or pure noise.</summary>
internal static class TestImages
{
    /// <summary>Packed HWC bytes: a random smooth field plus a little noise (JPEG-friendly).</summary>
    public static byte[] Smooth(int width, int height, int channels, ulong seed)
    {
        var rng = new Rng(seed);
        var px = new byte[width * height * channels];
        var a = new double[channels * 4];
        for (int i = 0; i < a.Length; i++) a[i] = rng.Uniform(0.5, 3.0);
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
                for (int c = 0; c < channels; c++)
                {
                    double v = 128 + 90 * Math.Sin(a[c * 4] * x / width * Math.PI + a[c * 4 + 1]) * Math.Cos(a[c * 4 + 2] * y / height * Math.PI + a[c * 4 + 3]);
                    v += rng.Uniform(-6, 6);
                    px[(y * width + x) * channels + c] = (byte)Math.Clamp((int)Math.Round(v), 0, 255);
                }
        return px;
    }

    public static byte[] Noise(int length, ulong seed)
    {
        var rng = new Rng(seed);
        var b = new byte[length];
        for (int i = 0; i < b.Length; i++) b[i] = (byte)rng.NextInt(256);
        return b;
    }

    /// <summary>The repository's tests/Engine/Data folder (for the PIL script), found from the test binary upwards.</summary>
    public static string? SourceFolder()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null)
        {
            string candidate = Path.Combine(dir.FullName, "tests", "Engine", "Data");
            if (File.Exists(Path.Combine(candidate, "pil_ops.py"))) return candidate;
            dir = dir.Parent;
        }
        return null;
    }

    public static string TempFolder(string name)
    {
        string p = Path.Combine(Path.GetTempPath(), $"vicreg-data-tests-{name}-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(p);
        return p;
    }
}
