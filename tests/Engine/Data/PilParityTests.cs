using System.Diagnostics;
using Vicreg.Engine.Data.Decoding;
using Vicreg.Engine.Data.Transforms;

namespace Vicreg.Tests.Engine.Data;

/// <summary>
/// Our 8-bit operations against Pillow itself (Debian's python3-pil under /usr/bin/python3), on random
/// images at awkward sizes: bicubic and bilinear crops (up and down), jitter adjustments, grayscale, blur, solarize.
/// Skipped with the reason when Python or PIL is missing.
/// </summary>
public class PilParityTests
{
    private sealed record Case(string Mode, int Width, int Height, string Op, string Args, Func<byte[], byte[]> Ours, int Tolerance = 0);

    private static byte[] Run(byte[] src, Action<byte[]> op)
    {
        var copy = (byte[])src.Clone();
        op(copy);
        return copy;
    }

    private static byte[] Crop(byte[] src, int w, int ch, int l, int t, int cw, int chh, int ow, int oh, ResampleFilter filter = ResampleFilter.Bicubic)
    {
        var dst = new byte[ow * oh * ch];
        PillowResampler.Resize(src.AsSpan((t * w + l) * ch), cw, chh, ch, w * ch, 0, 0, cw, chh, ow, oh, 0, 0, ow, oh, dst, filter);
        return dst;
    }

    [SkippableFact]
    public void OperationsMatchPillow()
    {
        string? folder = TestImages.SourceFolder();
        Skip.If(folder is null, "tests/Engine/Data/pil_ops.py not found from the test binary");
        Skip.IfNot(File.Exists("/usr/bin/python3"), "/usr/bin/python3 is not installed");
        string tmp = TestImages.TempFolder("pil");
        try
        {
            const int w = 37, h = 29;
            var rgb = TestImages.Smooth(w, h, 3, 21);
            var noisy = TestImages.Noise(w * h * 3, 22);
            var gray = TestImages.Smooth(w, h, 1, 23);
            var cases = new List<(Case c, byte[] input)>();
            void Add(string mode, byte[] input, string op, string args, Func<byte[], byte[]> ours, int tol = 0) =>
                cases.Add((new Case(mode, w, h, op, args, ours, tol), input));

            foreach (var (mode, img, ch) in new[] { ("RGB", rgb, 3), ("RGB", noisy, 3), ("L", gray, 1) })
            {
                Add(mode, img, "resizedcrop", "3 5 31 19 13 11", s => Crop(s, w, ch, 3, 5, 31, 19, 13, 11));      // down
                Add(mode, img, "resizedcrop", "0 0 37 29 64 50", s => Crop(s, w, ch, 0, 0, 37, 29, 64, 50));      // up
                Add(mode, img, "resizedcrop", "10 2 7 23 17 5", s => Crop(s, w, ch, 10, 2, 7, 23, 17, 5));        // mixed
                Add(mode, img, "resizedcrop", "1 1 35 27 35 9", s => Crop(s, w, ch, 1, 1, 35, 27, 35, 9));        // vertical only
                Add(mode, img, "resizedcrop", "36 28 1 1 3 2", s => Crop(s, w, ch, 36, 28, 1, 1, 3, 2));          // one pixel
                const ResampleFilter bilinear = ResampleFilter.Bilinear;
                Add(mode, img, "resizedcrop_bilinear", "3 5 31 19 13 11", s => Crop(s, w, ch, 3, 5, 31, 19, 13, 11, bilinear));
                Add(mode, img, "resizedcrop_bilinear", "0 0 37 29 64 50", s => Crop(s, w, ch, 0, 0, 37, 29, 64, 50, bilinear));
                Add(mode, img, "resizedcrop_bilinear", "10 2 7 23 17 5", s => Crop(s, w, ch, 10, 2, 7, 23, 17, 5, bilinear));
                Add(mode, img, "resizedcrop_bilinear", "36 28 1 1 3 2", s => Crop(s, w, ch, 36, 28, 1, 1, 3, 2, bilinear));
                foreach (float f in new[] { 0.63f, 1.37f })
                {
                    Add(mode, img, "brightness", f.ToString("R"), s => Run(s, p => PixelOps.Brightness(p, f)));
                    Add(mode, img, "contrast", f.ToString("R"), s => Run(s, p => PixelOps.Contrast(p, ch, f)));
                    Add(mode, img, "saturation", f.ToString("R"), s => Run(s, p => PixelOps.Saturation(p, ch, f)));
                }
                foreach (float f in new[] { -0.0913f, 0.0457f, -0.0019f })
                    Add(mode, img, "hue", f.ToString("R"), s => Run(s, p => PixelOps.Hue(p, ch, f)));
                Add(mode, img, "grayscale", "", s => Run(s, p => PixelOps.Grayscale(p, ch)));
                foreach (float sigma in new[] { 0.1f, 0.77f, 1.93f, 2.0f })
                    Add(mode, img, "blur", sigma.ToString("R"), s => Run(s, p => GaussianBlur.Apply(p, w, h, ch, sigma)));
                Add(mode, img, "solarize", "", s => Run(s, p => PixelOps.Solarize(p)));
            }

            // Decoding: PIL (libjpeg-turbo underneath too, and its own PNG decoder) against ours.
            var decodeCases = new List<(string Mode, byte[] File, int Channels)>
            {
                ("RGB", JpegEncoder.Encode(rgb, w, h, 3, 92), 3),
                ("RGB", JpegEncoder.Encode(noisy, w, h, 3, 75, progressive: true, subsample420: true), 3),
                ("L", JpegEncoder.Encode(gray, w, h, 1, 88), 1),
                ("RGB", JpegEncoder.Encode(gray, w, h, 1, 88), 3),
                ("RGB", TestPngWriter.Encode(noisy.Select(b => (int)b).ToArray(), w, h, 8, 2, interlace: true), 3),
                ("L", TestPngWriter.Encode(noisy.Select(b => (int)b).ToArray(), w, h, 8, 2), 1),
            };
            foreach (var (mode, file, ch) in decodeCases)
            {
                Add(mode, file, "decode", "", f =>
                {
                    var image = new Vicreg.Engine.Data.ImageBuffer();
                    Vicreg.Engine.Data.Decoding.ImageDecoder.Decode(f, image, ch);
                    return image.Pixels.ToArray();
                });
            }

            var job = new System.Text.StringBuilder();
            for (int i = 0; i < cases.Count; i++)
            {
                var (c, input) = cases[i];
                string src = Path.Combine(tmp, $"in{i}.raw"), dst = Path.Combine(tmp, $"out{i}.raw");
                File.WriteAllBytes(src, input);
                job.AppendLine($"{c.Width} {c.Height} {c.Mode} {src} {dst} {c.Op} {c.Args}");
            }
            string jobFile = Path.Combine(tmp, "job.txt");
            File.WriteAllText(jobFile, job.ToString());
            var psi = new ProcessStartInfo("/usr/bin/python3", [Path.Combine(folder!, "pil_ops.py"), jobFile]) { RedirectStandardError = true, RedirectStandardOutput = true };
            using var proc = Process.Start(psi)!;
            string err = proc.StandardError.ReadToEnd();
            proc.WaitForExit();
            Skip.If(err.Contains("No module named"), $"PIL/numpy missing: {err.Trim()}");
            Assert.True(proc.ExitCode == 0, $"pil_ops.py failed: {err}");

            var failures = new List<string>();
            for (int i = 0; i < cases.Count; i++)
            {
                var (c, input) = cases[i];
                var expected = File.ReadAllBytes(Path.Combine(tmp, $"out{i}.raw"));
                var actual = c.Ours(input);
                if (expected.Length != actual.Length) { failures.Add($"{c.Mode} {c.Op} {c.Args}: length {actual.Length} vs {expected.Length}"); continue; }
                int worst = 0, count = 0;
                for (int k = 0; k < expected.Length; k++)
                {
                    int d = Math.Abs(expected[k] - actual[k]);
                    if (d > 0) count++;
                    worst = Math.Max(worst, d);
                }
                if (worst > c.Tolerance) failures.Add($"{c.Mode} {c.Op} {c.Args}: {count} bytes differ, worst {worst}");
            }
            Assert.True(failures.Count == 0, string.Join("\n", failures));
        }
        finally
        {
            Directory.Delete(tmp, true);
        }
    }
}
