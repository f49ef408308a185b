using Vicreg.Augment;
using Vicreg.Engine.Data.Decoding;
using Vicreg.Engine.Data.Transforms;
using Vicreg.Engine.Data;
using Vicreg.Engine;

namespace Vicreg.Tests.Engine.Data;

public class TransformTests
{
    [Fact]
    public void FlipSolarizeAndBrightnessMatchHandComputedValues()
    {
        // 3x2 RGB image
        byte[] img = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120, 130, 140, 150, 200, 210, 255];
        var f = (byte[])img.Clone();
        PixelOps.FlipHorizontal(f, 3, 2, 3);
        Assert.Equal(new byte[] { 70, 80, 90, 40, 50, 60, 10, 20, 30, 200, 210, 255, 130, 140, 150, 100, 110, 120 }, f);

        var s = (byte[])img.Clone();
        PixelOps.Solarize(s);
        Assert.Equal(new byte[] { 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120, 125, 115, 105, 55, 45, 0 }, s);

        var b = (byte[])img.Clone();
        PixelOps.Brightness(b, 0.5f); // truncation: 10*0.5=5, 255*0.5=127.5 -> 127
        Assert.Equal(new byte[] { 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 75, 100, 105, 127 }, b);
        var b2 = (byte[])img.Clone();
        PixelOps.Brightness(b2, 1.5f); // clamped: 200*1.5=300 -> 255
        Assert.Equal(new byte[] { 15, 30, 45, 60, 75, 90, 105, 120, 135, 150, 165, 180, 195, 210, 225, 255, 255, 255 }, b2);

        // Contrast on gray: mean = (10+20+30+250)/4 = 77.5 -> int(78.0) = 78; factor 0.5: 78 + 0.5 (v - 78), truncated.
        byte[] g = [10, 20, 30, 250];
        PixelOps.Contrast(g, 1, 0.5f);
        Assert.Equal(new byte[] { 44, 49, 54, 164 }, g);

        // Gray: L = (19595 R + 38470 G + 7471 B + 32768) >> 16.
        byte[] px = [255, 0, 0, 0, 255, 0];
        PixelOps.Grayscale(px, 3);
        Assert.Equal(new byte[] { 76, 76, 76, 150, 150, 150 }, px);
    }

    [Fact]
    public void HueShiftOfPureColorsRotatesThem()
    {
        // Red (h=0) shifted by a third of the circle: uint8(1/3*255) = 85 -> hue byte 85 -> green.
        byte[] red = [255, 0, 0];
        PixelOps.Hue(red, 3, 1f / 3f);
        Assert.Equal(new byte[] { 0, 255, 0 }, red);
        PixelOps.RgbToHsv(0, 0, 255, out byte h, out byte s, out byte v);
        Assert.Equal((170, 255, 255), (h, s, v)); // blue = 2/3 of 255
    }

    [Fact]
    public void RandomResizedCropSamplingFollowsTheAlgorithm()
    {
        var rng = new Rng(5);
        var areas = new List<double>();
        for (int i = 0; i < 4000; i++)
        {
            int w = 50 + rng.NextInt(400), h = 50 + rng.NextInt(400);
            var copy = rng;
            var box = RandomResizedCropSampler.Sample(ref rng, w, h, 0.08, 1.0, 3.0 / 4, 4.0 / 3);
            Assert.InRange(box.Left, 0, w - box.Width);
            Assert.InRange(box.Top, 0, h - box.Height);
            Assert.True(box.Width > 0 && box.Height > 0);
            // Replay the first attempt by hand: same draws, same rounding.
            double area = (double)w * h * copy.Uniform(0.08, 1.0);
            double ratio = Math.Exp(copy.Uniform(Math.Log(0.75), Math.Log(4.0 / 3)));
            int cw = (int)Math.Round(Math.Sqrt(area * ratio), MidpointRounding.ToEven);
            int ch = (int)Math.Round(Math.Sqrt(area / ratio), MidpointRounding.ToEven);
            if (cw <= w && ch <= h)
            {
                Assert.Equal((cw, ch), (box.Width, box.Height));
                Assert.Equal(copy.NextInt(h - ch + 1), box.Top);
                Assert.Equal(copy.NextInt(w - cw + 1), box.Left);
                areas.Add((double)cw * ch / (w * h));
            }
        }
        // Accepted first attempts keep the requested area fraction (up to the rounding of the sides);
        // they are biased to small areas (large areas with extreme ratios do not fit), as in torchvision.
        Assert.All(areas, a => Assert.InRange(a, 0.07, 1.0));
        Assert.True(areas.Count > 1500, $"{areas.Count} first attempts fitted");
        Assert.InRange(areas.Average(), 0.3, 0.5);

        // Impossible scale: every attempt fails and the centre fallback clamps the ratio.
        var r2 = new Rng(9);
        var wide = RandomResizedCropSampler.Sample(ref r2, 400, 100, 2.0, 3.0, 3.0 / 4, 4.0 / 3);
        Assert.Equal(new CropBox(133, 0, 133, 100), wide); // w = round(100 * 4/3) = 133, left = (400-133)//2
        var tall = RandomResizedCropSampler.Sample(ref r2, 90, 301, 2.0, 3.0, 3.0 / 4, 4.0 / 3);
        Assert.Equal(new CropBox(0, 90, 90, 120), tall); // h = round(90 / 0.75), top = (301-120)//2
        var square = RandomResizedCropSampler.Sample(ref r2, 64, 60, 2.0, 3.0, 3.0 / 4, 4.0 / 3);
        Assert.Equal(new CropBox(0, 0, 64, 60), square);
    }

    [Fact]
    public void PipelineIsDeterministicPerKeyAndDiffersAcrossKeys()
    {
        var views = VicregAugmentations.ImageNetTwoViews(32);
        var image = new ImageBuffer();
        TestImages.Smooth(53, 41, 3, 3).CopyTo(image.Reset(53, 41, 3));
        var a = new float[3 * 32 * 32]; var b = new float[a.Length]; var c = new float[a.Length];
        var r = Rng.ForKey(1, 2, 3, 0); views[0].Apply(image, ref r, a);
        r = Rng.ForKey(1, 2, 3, 0); views[0].Apply(image, ref r, b);
        r = Rng.ForKey(1, 2, 4, 0); views[0].Apply(image, ref r, c);
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        Assert.All(a, v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void ViewProbabilitiesMatchTheOfficialRecipe()
    {
        // Count, over many keys, how often each view's blur and solarize fire, by replaying the draws.
        var views = VicregAugmentations.ImageNetTwoViews(16).Cast<AugmentationPipeline>().ToArray();
        Assert.Equal((1.0, 0.0), (views[0].Spec.BlurP, views[0].Spec.SolarizeP));
        Assert.Equal((0.1, 0.2), (views[1].Spec.BlurP, views[1].Spec.SolarizeP));
        foreach (var v in views)
        {
            var s = v.Spec;
            Assert.Equal((0.08, 1.0, 0.5, 0.8, 0.2), (s.ScaleMin, s.ScaleMax, s.FlipP, s.JitterP, s.GrayscaleP));
            Assert.Equal((0.4, 0.4, 0.2, 0.1), (s.Brightness, s.Contrast, s.Saturation, s.Hue));
            Assert.Equal((0.1, 2.0), (s.BlurSigmaMin, s.BlurSigmaMax));
        }
        var small = VicregAugmentations.SmallImageTwoViews(28, DatasetNormalization.FashionMnist).Cast<AugmentationPipeline>().ToArray();
        Assert.Equal((0.0, 0.2), (small[0].Spec.SolarizeP, small[1].Spec.SolarizeP));
        Assert.Equal((0.0, 0.0, 0.0, 1), (small[0].Spec.BlurP, small[0].Spec.Saturation, small[0].Spec.GrayscaleP, small[0].Channels));
        var wider = VicregAugmentations.WithCropScaleMin(small, 0.45).Cast<AugmentationPipeline>().ToArray();
        Assert.Equal(small.Select(v => v.Spec with { ScaleMin = 0.45 }), wider.Select(v => v.Spec));
    }

    [Fact]
    public void SmallerCropsChangeOnlyTheOutputSide()
    {
        var views = VicregAugmentations.SmallImageTwoViews(28, DatasetNormalization.FashionMnist).Cast<AugmentationPipeline>().ToArray();
        var smaller = VicregAugmentations.WithCropSize(views, 19).Cast<AugmentationPipeline>().ToArray();
        Assert.Equal(views.Select(v => v.Spec with { Size = 19 }), smaller.Select(v => v.Spec));
        // A 28x28 image becomes 19x19 crops (the destination holds exactly that many pixels), of varied, finite values.
        var image = new ImageBuffer();
        TestImages.Smooth(28, 28, 1, 7).CopyTo(image.Reset(28, 28, 1));
        var crop = new float[19 * 19];
        var r = Rng.ForKey(2, 0, 1, 0);
        smaller[0].Apply(image, ref r, crop);
        Assert.All(crop, v => Assert.True(float.IsFinite(v)));
        Assert.True(crop.Distinct().Count() > 19, "the crop is (nearly) constant");
        Assert.Throws<ArgumentException>(() => VicregAugmentations.WithCropSize([VicregAugmentations.SmallImageEvaluation(28, DatasetNormalization.FashionMnist)], 19));
    }

    [Fact]
    public void SolarizeOnlyViewTwoOnAConstantImageShowsTheRate()
    {
        // Constant 200 gray image, no jitter variety: view 2 pixels become 55 when solarized.
        var spec = new AugmentationSpec { Size = 4, Channels = 1, Geometry = GeometryKind.None, SolarizeP = 0.2, Mean = [0], Std = [1] };
        var t = new AugmentationPipeline(spec);
        var image = new ImageBuffer();
        image.Reset(4, 4, 1).Fill(200);
        var dst = new float[16];
        int solarized = 0;
        for (int k = 0; k < 5000; k++)
        {
            var r = Rng.ForKey(3, 0, (ulong)k, 1);
            t.Apply(image, ref r, dst);
            if (dst[0] == 55f / 255f) solarized++;
            else Assert.Equal(200f / 255f, dst[0]);
        }
        Assert.InRange(solarized / 5000.0, 0.18, 0.22);
    }

    [Fact]
    public void EvaluationResizesShorterSideBilinearlyAndCropsCentre()
    {
        // Compare with the two-step computation: full resize to (ow, oh), then the centre window.
        var pixels = TestImages.Smooth(61, 45, 3, 4);
        var image = new ImageBuffer();
        pixels.CopyTo(image.Reset(61, 45, 3));
        var t = EvaluationTransforms.Photographs(24, new DatasetNormalization([0, 0, 0], [1, 1, 1]));
        var r = new Rng(0);
        var dst = new float[3 * 24 * 24];
        t.Apply(image, ref r, dst);
        int rs = (int)Math.Round(256.0 * 24 / 224); // 27
        int ow = rs * 61 / 45, oh = rs; // torchvision: int(27 * 61 / 45) = 36
        var full = new byte[ow * oh * 3];
        PillowResampler.Resize(pixels, 61, 45, 3, 61 * 3, 0, 0, 61, 45, ow, oh, 0, 0, ow, oh, full, ResampleFilter.Bilinear);
        int top = (int)Math.Round((oh - 24) / 2.0, MidpointRounding.ToEven), left = (int)Math.Round((ow - 24) / 2.0, MidpointRounding.ToEven);
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < 24; y++)
                for (int x = 0; x < 24; x++)
                    Assert.Equal(full[((top + y) * ow + left + x) * 3 + c] / 255f, dst[c * 576 + y * 24 + x]);
    }

    [Fact]
    public void PaddedRandomCropShiftsTheImageWithZeroBorder()
    {
        var pixels = TestImages.Noise(6 * 5, 12).Select(b => (byte)(b | 1)).ToArray(); // never zero
        var image = new ImageBuffer();
        pixels.CopyTo(image.Reset(6, 5, 1));
        var t = new AugmentationPipeline(new AugmentationSpec { Size = 6, Channels = 1, Geometry = GeometryKind.RandomCropPadded, Padding = 2, Mean = [0], Std = [1] });
        var dst = new float[36];
        var seen = new HashSet<(int, int)>();
        for (int k = 0; k < 200; k++)
        {
            var r = new Rng((ulong)k);
            var copy = r;
            t.Apply(image, ref r, dst);
            int top = copy.NextInt(5 + 4 - 6 + 1), left = copy.NextInt(6 + 4 - 6 + 1);
            seen.Add((top, left));
            for (int y = 0; y < 6; y++)
                for (int x = 0; x < 6; x++)
                {
                    int sy = top + y - 2, sx = left + x - 2;
                    float expected = sy >= 0 && sy < 5 && sx >= 0 && sx < 6 ? pixels[sy * 6 + sx] / 255f : 0f;
                    Assert.Equal(expected, dst[y * 6 + x]);
                }
        }
        Assert.Equal(4 * 5, seen.Count);
    }

    [Fact]
    public void DecodeScaleRequestKeepsTheCropAtLeastOutputSized()
    {
        const int w = 640, h = 480;
        var jpeg = JpegEncoder.Encode(TestImages.Smooth(w, h, 3, 8), w, h, 3, 95);
        var views = VicregAugmentations.ImageNetTwoViews(64);
        int scaled = 0;
        for (int k = 0; k < 40; k++)
        {
            var chooser = new TwoViewChooser(views, (ulong)k);
            var image = new ImageBuffer();
            JpegDecoder.Decode(jpeg, image, 3, chooser);
            if (image.Width < w) scaled++;
            for (int v = 0; v < 2; v++)
            {
                var r = Rng.ForKey(0, 0, (ulong)k, (ulong)v);
                var box = RandomResizedCropSampler.Sample(ref r, w, h, 0.08, 1, 0.75, 4.0 / 3);
                Assert.True(box.Width * image.ScaleX >= 64 - 1e-9 && box.Height * image.ScaleY >= 64 - 1e-9);
                var dst = new float[3 * 64 * 64];
                r = Rng.ForKey(0, 0, (ulong)k, (ulong)v);
                views[v].Apply(image, ref r, dst);
            }
        }
        Assert.True(scaled > 20, $"only {scaled} of 40 decodes were DCT-scaled");
    }

    private sealed class TwoViewChooser(IImageTransform[] views, ulong index) : IDecodeScaleChooser
    {
        public double MinimumScale(int w, int h) =>
            Math.Max(views[0].MinimumDecodeScale(w, h, Rng.ForKey(0, 0, index, 0)), views[1].MinimumDecodeScale(w, h, Rng.ForKey(0, 0, index, 1)));
    }
}
