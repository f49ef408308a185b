using Vicreg.Engine;
using Vicreg.Engine.Data;
using Vicreg.Engine.Data.Decoding;

namespace Vicreg.Tests.Engine.Data;

public class PngDecoderTests
{
    public static TheoryData<int, int, bool, int, int> Cases()
    {
        var d = new TheoryData<int, int, bool, int, int>();
        (int Type, int Depth)[] kinds = [(0, 1), (0, 2), (0, 4), (0, 8), (0, 16), (2, 8), (2, 16), (3, 1), (3, 2), (3, 4), (3, 8), (4, 8), (4, 16), (6, 8), (6, 16)];
        foreach (var (t, depth) in kinds)
        {
            d.Add(t, depth, false, 13, 7);
            d.Add(t, depth, true, 17, 11);
        }
        d.Add(2, 8, false, 1, 1);
        d.Add(6, 8, true, 3, 2); // interlaced with empty passes
        return d;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void DecodesEveryColorTypeDepthFilterAndInterlaceExactly(int colorType, int depth, bool interlace, int width, int height)
    {
        var rng = new Rng((ulong)(colorType * 100 + depth * 3 + (interlace ? 1 : 0)));
        int spp = TestPngWriter.SamplesPerPixel(colorType);
        int max = (1 << depth) - 1;
        byte[]? palette = null;
        int paletteSize = 0;
        if (colorType == 3)
        {
            paletteSize = Math.Min(256, 1 << depth) - (depth == 8 ? 56 : 0); // not always full
            palette = TestImages.Noise(paletteSize * 3, 99);
        }
        var samples = new int[width * height * spp];
        for (int i = 0; i < samples.Length; i++) samples[i] = colorType == 3 ? rng.NextInt(paletteSize) : rng.NextInt(max + 1);

        var png = TestPngWriter.Encode(samples, width, height, depth, colorType, palette, interlace,
            trns: colorType == 3 ? [0, 128] : null);

        var expected = new byte[width * height * 3];
        for (int p = 0; p < width * height; p++)
        {
            int S(int s) => samples[p * spp + s];
            byte Eight(int v) => depth == 16 ? (byte)(v >> 8) : depth == 8 ? (byte)v : (byte)(v * 255 / max);
            (byte r, byte g, byte b) = colorType switch
            {
                0 or 4 => (Eight(S(0)), Eight(S(0)), Eight(S(0))),
                3 => (palette![S(0) * 3], palette[S(0) * 3 + 1], palette[S(0) * 3 + 2]),
                _ => (Eight(S(0)), Eight(S(1)), Eight(S(2))),
            };
            expected[p * 3] = r;
            expected[p * 3 + 1] = g;
            expected[p * 3 + 2] = b;
        }

        var image = new ImageBuffer();
        PngDecoder.Decode(png, image, 3);
        Assert.Equal(width, image.Width);
        Assert.Equal(height, image.Height);
        Assert.Equal(expected, image.Pixels.ToArray());

        // Gray output: PIL's luma of the RGB result.
        var gray = new ImageBuffer();
        PngDecoder.Decode(png, gray, 1);
        for (int p = 0; p < width * height; p++)
            Assert.Equal(ColorMath.Luma(expected[p * 3], expected[p * 3 + 1], expected[p * 3 + 2]), gray.Pixels[p]);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void EachFilterTypeAloneRoundTrips(int filter)
    {
        const int w = 9, h = 5;
        var samples = TestImages.Noise(w * h * 3, (ulong)filter + 7).Select(b => (int)b).ToArray();
        var png = TestPngWriter.Encode(samples, w, h, 8, 2, filterForRow: _ => filter);
        var image = new ImageBuffer();
        PngDecoder.Decode(png, image, 3);
        Assert.Equal(samples.Select(s => (byte)s).ToArray(), image.Pixels.ToArray());
    }

    [Fact]
    public void CrcMismatchIsAnError()
    {
        var samples = TestImages.Noise(5 * 4, 3).Select(b => (int)b).ToArray();
        var png = TestPngWriter.Encode(samples, 5, 4, 8, 0, corruptCrc: true);
        var e = Assert.Throws<ImageDecodeException>(() => PngDecoder.Decode(png, new ImageBuffer(), 3));
        Assert.Contains("CRC", e.Message);
    }

    [Fact]
    public void TruncatedFileIsAnError()
    {
        var samples = TestImages.Noise(8 * 8 * 3, 4).Select(b => (int)b).ToArray();
        var png = TestPngWriter.Encode(samples, 8, 8, 8, 2);
        Assert.Throws<ImageDecodeException>(() => PngDecoder.Decode(png.AsSpan(0, png.Length - 30), new ImageBuffer(), 3));
    }

    [Fact]
    public void CrcMatchesKnownValue()
    {
        // The CRC-32 check value of "123456789" (from the CRC catalogue).
        Assert.Equal(0xCBF43926u, Crc32.Compute("123456789"u8));
        Assert.Equal(0xCBF43926u, TestPngWriter.Crc("123456789"u8));
    }
}
