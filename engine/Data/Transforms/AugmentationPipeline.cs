namespace Vicreg.Engine.Data.Transforms;

/// <summary>
/// An <see cref="IImageTransform"/> running an <see cref="AugmentationSpec"/> on 8-bit pixels, the way
/// torchvision runs it on PIL images (every step rounds to bytes as PIL does), then ToTensor +
/// Normalize into float CHW. Working buffers are per thread and reused.
/// <para>
/// Random draws, in order: geometry (crop box or padded-crop offset), flip, jitter (applied?, order,
/// factors), grayscale, blur (applied?, sigma), solarize. The Bernoulli draws are made even when a
/// probability is 0 or 1, so a stream's layout does not depend on the recipe's probabilities.
/// </para>
/// </summary>
public sealed class AugmentationPipeline : IImageTransform
{
    private readonly AugmentationSpec _spec;
    private readonly float[] _normalize; // per channel, 256 entries: ((v / 255) - mean) / std

    [ThreadStatic] private static byte[]? t_work;

    /// <summary>Validates <paramref name="spec"/> (1 or 3 channels, one mean/std per channel, a positive size, a resize no smaller
    /// than the crop; else <see cref="ArgumentException"/>) and precomputes its byte-to-float normalization tables.</summary>
    public AugmentationPipeline(AugmentationSpec spec)
    {
        if (spec.Channels is not (1 or 3)) throw new ArgumentException($"output channels {spec.Channels} (1 or 3)");
        if (spec.Mean.Length != spec.Channels || spec.Std.Length != spec.Channels)
            throw new ArgumentException($"mean/std need {spec.Channels} values");
        if (spec.Size <= 0) throw new ArgumentException($"image size {spec.Size}");
        if (spec.Geometry == GeometryKind.ResizeCentreCrop && spec.ResizeShorter < spec.Size)
            throw new ArgumentException($"resize {spec.ResizeShorter} is smaller than the crop {spec.Size}");
        _spec = spec;
        _normalize = new float[256 * spec.Channels];
        for (int c = 0; c < spec.Channels; c++)
            for (int v = 0; v < 256; v++)
                _normalize[c * 256 + v] = ((float)v / 255f - spec.Mean[c]) / spec.Std[c]; // torchvision's float32 order
    }

    /// <summary>The recipe this pipeline runs.</summary>
    public AugmentationSpec Spec => _spec;
    /// <inheritdoc/>
    public int Channels => _spec.Channels;
    /// <inheritdoc/>
    public int Height => _spec.Size;
    /// <inheritdoc/>
    public int Width => _spec.Size;

    /// <inheritdoc/>
    public double MinimumDecodeScale(int sourceWidth, int sourceHeight, Rng rng)
    {
        if (!_spec.AllowDecodeScaling) return 1;
        switch (_spec.Geometry)
        {
            case GeometryKind.RandomResizedCrop:
            {
                var box = RandomResizedCropSampler.Sample(ref rng, sourceWidth, sourceHeight, _spec.ScaleMin, _spec.ScaleMax, _spec.RatioMin, _spec.RatioMax);
                return Math.Min(1, Math.Max((double)_spec.Size / box.Width, (double)_spec.Size / box.Height));
            }
            case GeometryKind.ResizeCentreCrop:
                return Math.Min(1, (double)_spec.ResizeShorter / Math.Min(sourceWidth, sourceHeight));
            default:
                return 1;
        }
    }

    /// <inheritdoc/>
    public void Apply(ImageBuffer image, ref Rng rng, Span<float> destination)
    {
        int size = _spec.Size, channels = _spec.Channels;
        int inChannels = image.Channels;
        int workChannels = Math.Max(inChannels, channels);
        int bytes = size * size * workChannels;
        var work = t_work;
        if (work is null || work.Length < bytes) t_work = work = new byte[Math.Max(bytes, 1 << 16)];

        Geometry(image, ref rng, work.AsSpan(0, size * size * inChannels));
        var pixels = ConvertChannels(work, size * size, inChannels, channels);

        bool flip = rng.Bernoulli(_spec.FlipP);
        if (flip) PixelOps.FlipHorizontal(pixels, size, size, channels);

        if (rng.Bernoulli(_spec.JitterP)) Jitter(pixels, channels, ref rng);

        if (rng.Bernoulli(_spec.GrayscaleP)) PixelOps.Grayscale(pixels, channels);

        if (rng.Bernoulli(_spec.BlurP))
        {
            float sigma = (float)rng.Uniform(_spec.BlurSigmaMin, _spec.BlurSigmaMax);
            GaussianBlur.Apply(pixels, size, size, channels, sigma);
        }

        if (rng.Bernoulli(_spec.SolarizeP)) PixelOps.Solarize(pixels, _spec.SolarizeThreshold);

        Normalize(pixels, channels, destination);
    }

    private void Geometry(ImageBuffer image, ref Rng rng, Span<byte> output)
    {
        int size = _spec.Size, ch = image.Channels;
        var src = image.Pixels;
        int w = image.Width, h = image.Height, stride = image.Stride;
        switch (_spec.Geometry)
        {
            case GeometryKind.RandomResizedCrop:
            {
                var box = RandomResizedCropSampler.Sample(ref rng, image.SourceWidth, image.SourceHeight, _spec.ScaleMin, _spec.ScaleMax, _spec.RatioMin, _spec.RatioMax);
                // The crop in decoded pixels: exact at full resolution (PIL crops, then resizes the
                // crop alone), fractional bounds within the enclosing whole pixels when DCT-scaled.
                double sx = image.ScaleX, sy = image.ScaleY;
                double fx0 = box.Left * sx, fx1 = (box.Left + box.Width) * sx;
                double fy0 = box.Top * sy, fy1 = (box.Top + box.Height) * sy;
                int rx0 = Math.Clamp((int)Math.Floor(fx0), 0, w - 1), ry0 = Math.Clamp((int)Math.Floor(fy0), 0, h - 1);
                int rx1 = Math.Clamp((int)Math.Ceiling(fx1), rx0 + 1, w), ry1 = Math.Clamp((int)Math.Ceiling(fy1), ry0 + 1, h);
                fx1 = Math.Min(fx1, rx1);
                fy1 = Math.Min(fy1, ry1);
                PillowResampler.Resize(src[(ry0 * stride + rx0 * ch)..], rx1 - rx0, ry1 - ry0, ch, stride,
                    fx0 - rx0, fy0 - ry0, fx1 - rx0, fy1 - ry0, size, size, 0, 0, size, size, output, _spec.Interpolation);
                break;
            }
            case GeometryKind.ResizeCentreCrop:
            {
                // torchvision Resize(int): the shorter side becomes R, the other int(R * long / short),
                // computed on the full-resolution size; then CenterCrop with Python's round.
                int sw = image.SourceWidth, sh = image.SourceHeight, r = _spec.ResizeShorter;
                int ow, oh;
                if (sw <= sh) { ow = r; oh = (int)((long)r * sh / sw); }
                else { oh = r; ow = (int)((long)r * sw / sh); }
                int top = (int)Math.Round((oh - size) / 2.0, MidpointRounding.ToEven);
                int left = (int)Math.Round((ow - size) / 2.0, MidpointRounding.ToEven);
                PillowResampler.Resize(src, w, h, ch, stride, 0, 0, w, h, ow, oh, left, top, size, size, output, _spec.Interpolation);
                break;
            }
            case GeometryKind.RandomCropPadded:
            {
                int pad = _spec.Padding;
                int pw = w + 2 * pad, ph = h + 2 * pad;
                if (pw < size || ph < size) throw new ImageDecodeException($"image {w}x{h} is smaller than the crop {size} even padded");
                int top = ph == size ? 0 : rng.NextInt(ph - size + 1);
                int left = pw == size ? 0 : rng.NextInt(pw - size + 1);
                output.Clear();
                for (int y = 0; y < size; y++)
                {
                    int sy = top + y - pad;
                    if ((uint)sy >= (uint)h) continue;
                    int x0 = Math.Max(0, pad - left), x1 = Math.Min(size, w + pad - left);
                    if (x1 <= x0) continue;
                    src.Slice(sy * stride + (left + x0 - pad) * ch, (x1 - x0) * ch).CopyTo(output.Slice((y * size + x0) * ch));
                }
                break;
            }
            default:
                if (w != size || h != size) throw new ImageDecodeException($"image {w}x{h} is not {size}x{size} (no resizing configured)");
                src.CopyTo(output);
                break;
        }
    }

    /// <summary>Gray to RGB by replication, RGB to gray by PIL's luma; in place in the work buffer.</summary>
    private static Span<byte> ConvertChannels(byte[] work, int count, int from, int to)
    {
        if (from == to) return work.AsSpan(0, count * to);
        if (from == 1)
        {
            for (int i = count - 1; i >= 0; i--)
            {
                byte v = work[i];
                work[i * 3] = work[i * 3 + 1] = work[i * 3 + 2] = v;
            }
        }
        else
        {
            for (int i = 0; i < count; i++) work[i] = ColorMath.Luma(work[i * 3], work[i * 3 + 1], work[i * 3 + 2]);
        }
        return work.AsSpan(0, count * to);
    }

    /// <summary>torchvision ColorJitter: a random order of the four adjustments, each factor drawn once.</summary>
    private void Jitter(Span<byte> pixels, int channels, ref Rng rng)
    {
        Span<int> order = [0, 1, 2, 3];
        rng.Shuffle(order);
        float b = (float)Factor(ref rng, _spec.Brightness);
        float c = (float)Factor(ref rng, _spec.Contrast);
        float s = (float)Factor(ref rng, _spec.Saturation);
        float h = _spec.Hue > 0 ? (float)rng.Uniform(-_spec.Hue, _spec.Hue) : 0f;
        foreach (int op in order)
        {
            switch (op)
            {
                case 0 when _spec.Brightness > 0: PixelOps.Brightness(pixels, b); break;
                case 1 when _spec.Contrast > 0: PixelOps.Contrast(pixels, channels, c); break;
                case 2 when _spec.Saturation > 0: PixelOps.Saturation(pixels, channels, s); break;
                case 3 when _spec.Hue > 0: PixelOps.Hue(pixels, channels, h); break;
            }
        }
    }

    private static double Factor(ref Rng rng, double strength) =>
        strength > 0 ? rng.Uniform(Math.Max(0, 1 - strength), 1 + strength) : 1;

    private void Normalize(ReadOnlySpan<byte> pixels, int channels, Span<float> destination)
    {
        int plane = _spec.Size * _spec.Size;
        if (destination.Length < plane * channels) throw new ArgumentException("destination too small for the sample");
        for (int c = 0; c < channels; c++)
        {
            var lut = _normalize.AsSpan(c * 256, 256);
            var dst = destination.Slice(c * plane, plane);
            for (int i = 0; i < plane; i++) dst[i] = lut[pixels[i * channels + c]];
        }
    }
}
