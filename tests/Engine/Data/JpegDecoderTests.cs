using Vicreg.Engine.Data;
using Vicreg.Engine.Data.Decoding;

namespace Vicreg.Tests.Engine.Data;

public class JpegDecoderTests
{
    private static void AssertClose(byte[] expected, ReadOnlySpan<byte> actual, double maxMeanError, int maxError)
    {
        Assert.Equal(expected.Length, actual.Length);
        long sum = 0;
        int worst = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            int d = Math.Abs(expected[i] - actual[i]);
            sum += d;
            worst = Math.Max(worst, d);
        }
        double mean = (double)sum / expected.Length;
        Assert.True(mean <= maxMeanError && worst <= maxError, $"mean error {mean:F3} (max {maxMeanError}), worst {worst} (max {maxError})");
    }

    [Theory]
    [InlineData(3, false, 37, 23)]
    [InlineData(3, true, 41, 29)]
    [InlineData(1, false, 31, 17)]
    [InlineData(1, true, 16, 9)]
    public void QualityHundredRoundTripsWithinJpegTolerance(int channels, bool progressive, int width, int height)
    {
        var pixels = TestImages.Smooth(width, height, channels, (ulong)(width * 7 + channels));
        var jpeg = JpegEncoder.Encode(pixels, width, height, channels, quality: 100, progressive: progressive);
        Assert.True(JpegDecoder.IsJpeg(jpeg));
        var image = new ImageBuffer();
        JpegDecoder.Decode(jpeg, image, channels);
        Assert.Equal((width, height, channels), (image.Width, image.Height, image.Channels));
        AssertClose(pixels, image.Pixels, 1.0, 6);
    }

    [Fact]
    public void GrayJpegExpandsToRgbAndColorReducesToGray()
    {
        var gray = TestImages.Smooth(20, 12, 1, 5);
        var jpeg = JpegEncoder.Encode(gray, 20, 12, 1, quality: 100);
        var rgb = new ImageBuffer();
        JpegDecoder.Decode(jpeg, rgb, 3);
        var expected = gray.SelectMany(v => new[] { v, v, v }).ToArray();
        AssertClose(expected, rgb.Pixels, 1.0, 6);

        var color = TestImages.Smooth(20, 12, 3, 6);
        var cj = JpegEncoder.Encode(color, 20, 12, 3, quality: 100);
        var g = new ImageBuffer();
        JpegDecoder.Decode(cj, g, 1);
        var luma = new byte[20 * 12];
        for (int i = 0; i < luma.Length; i++) luma[i] = ColorMath.Luma(color[i * 3], color[i * 3 + 1], color[i * 3 + 2]);
        AssertClose(luma, g.Pixels, 1.5, 8);
    }

    private sealed class FixedScale(double scale) : IDecodeScaleChooser
    {
        public int Calls;
        public (int, int) Seen;
        public double MinimumScale(int w, int h)
        {
            Calls++;
            Seen = (w, h);
            return scale;
        }
    }

    [Fact]
    public void DctScalingDecodesSmallerWhenAllowedAndAveragesTheImage()
    {
        const int w = 203, h = 131;
        var pixels = TestImages.Smooth(w, h, 3, 11);
        var jpeg = JpegEncoder.Encode(pixels, w, h, 3, quality: 100);
        var chooser = new FixedScale(0.3); // smallest n/8 >= 0.3 is 3/8
        var image = new ImageBuffer();
        JpegDecoder.Decode(jpeg, image, 3, chooser);
        Assert.Equal(1, chooser.Calls);
        Assert.Equal((w, h), chooser.Seen);
        Assert.Equal((w, h), (image.SourceWidth, image.SourceHeight));
        Assert.Equal(((w * 3 + 7) / 8, (h * 3 + 7) / 8), (image.Width, image.Height));
        // Each decoded pixel approximates the mean of the source block it covers.
        double worst = 0;
        for (int y = 1; y < image.Height - 1; y++)
            for (int x = 1; x < image.Width - 1; x++)
                for (int c = 0; c < 3; c++)
                {
                    double sum = 0; int n = 0;
                    for (int sy = (int)(y * 8 / 3.0); sy < (int)((y + 1) * 8 / 3.0); sy++)
                        for (int sx = (int)(x * 8 / 3.0); sx < (int)((x + 1) * 8 / 3.0); sx++) { sum += pixels[(sy * w + sx) * 3 + c]; n++; }
                    worst = Math.Max(worst, Math.Abs(sum / n - image[y, x, c]));
                }
        Assert.True(worst < 20, $"worst deviation from block mean {worst}");

        var full = new ImageBuffer();
        JpegDecoder.Decode(jpeg, full, 3, new FixedScale(1.0));
        Assert.Equal((w, h), (full.Width, full.Height));
    }

    [Fact]
    public void CmykIsRejectedClearly()
    {
        const int w = 8, h = 8;
        var cmyk = TestImages.Noise(w * h * 4, 3);
        byte[] jpeg = EncodeCmyk(cmyk, w, h);
        var e = Assert.Throws<ImageDecodeException>(() => JpegDecoder.Decode(jpeg, new ImageBuffer(), 3));
        Assert.Contains("CMYK", e.Message);
    }

    private static unsafe byte[] EncodeCmyk(byte[] pixels, int w, int h)
    {
        nint handle = TurboJpegNative.InitCompress();
        try
        {
            byte* buf = null;
            nuint size = 0;
            fixed (byte* p = pixels)
                Assert.Equal(0, TurboJpegNative.Compress2(handle, p, w, 0, h, 11 /* TJPF_CMYK */, ref buf, ref size, TurboJpegNative.Subsampling444, 90, 0));
            var result = new ReadOnlySpan<byte>(buf, (int)size).ToArray();
            TurboJpegNative.Free(buf);
            return result;
        }
        finally
        {
            TurboJpegNative.Destroy(handle);
        }
    }

    [Fact]
    public void TruncatedOrCorruptJpegIsAnError()
    {
        var pixels = TestImages.Smooth(64, 48, 3, 8);
        var jpeg = JpegEncoder.Encode(pixels, 64, 48, 3, quality: 90);
        Assert.Throws<ImageDecodeException>(() => JpegDecoder.Decode(jpeg.AsSpan(0, jpeg.Length / 2), new ImageBuffer(), 3));
        Assert.Throws<ImageDecodeException>(() => JpegDecoder.Decode(jpeg.AsSpan(0, 40), new ImageBuffer(), 3));
        Assert.Throws<ImageDecodeException>(() => ImageDecoder.Decode("GIF89a....."u8, new ImageBuffer(), 3));
        // A failure must not poison the thread's decoder for the next, valid image.
        var good = new ImageBuffer();
        JpegDecoder.Decode(jpeg, good, 3);
        Assert.Equal((64, 48), (good.Width, good.Height));
        AssertClose(pixels, good.Pixels, 3.0, 40);
    }
}
