namespace Vicreg.Engine.Data.Decoding;

/// <summary>TurboJPEG's encoder, used by tests and the benchmark to write JPEGs (not by training).</summary>
internal static unsafe class JpegEncoder
{
    /// <summary>Encodes packed HWC bytes (1 or 3 channels) at the given quality (4:4:4 color).</summary>
    public static byte[] Encode(ReadOnlySpan<byte> pixels, int width, int height, int channels, int quality = 95, bool progressive = false, bool subsample420 = false)
    {
        if (pixels.Length < width * height * channels) throw new ArgumentException("pixel buffer too small");
        nint h = TurboJpegNative.InitCompress();
        if (h == 0) throw new InvalidOperationException("tjInitCompress failed");
        try
        {
            byte* jpeg = null;
            nuint size = 0;
            int format = channels == 1 ? TurboJpegNative.PixelFormatGray : TurboJpegNative.PixelFormatRgb;
            int sub = channels == 1 ? TurboJpegNative.SubsamplingGray : subsample420 ? TurboJpegNative.Subsampling420 : TurboJpegNative.Subsampling444;
            int flags = TurboJpegNative.FlagAccurateDct | (progressive ? TurboJpegNative.FlagProgressive : 0);
            fixed (byte* src = pixels)
            {
                if (TurboJpegNative.Compress2(h, src, width, 0, height, format, ref jpeg, ref size, sub, quality, flags) != 0)
                    throw new InvalidOperationException($"tjCompress2: {TurboJpegNative.ErrorMessage(h)}");
            }
            try
            {
                return new ReadOnlySpan<byte>(jpeg, checked((int)size)).ToArray();
            }
            finally
            {
                TurboJpegNative.Free(jpeg);
            }
        }
        finally
        {
            TurboJpegNative.Destroy(h);
        }
    }
}
