namespace Vicreg.Engine.Data.Decoding;

/// <summary>
/// JPEG decoding through TurboJPEG: baseline and progressive, grayscale and color (YCbCr/RGB),
/// to RGB or gray bytes. CMYK/YCCK files are refused. With a scale chooser the image is decoded
/// straight to a smaller size by libjpeg's DCT scaling (factors n/8) when the crop allows it.
/// One decompressor handle per thread (TurboJPEG handles are not thread-safe), freed at thread exit
/// by the finaliser of its holder.
/// </summary>
internal static unsafe class JpegDecoder
{
    private sealed class Handle
    {
        public readonly nint Value = TurboJpegNative.InitDecompress();
        private bool _destroyed;
        public void Destroy()
        {
            if (_destroyed || Value == 0) return;
            _destroyed = true;
            TurboJpegNative.Destroy(Value);
            GC.SuppressFinalize(this);
        }
        ~Handle() { if (!_destroyed && Value != 0) TurboJpegNative.Destroy(Value); }
    }

    /// <summary>After a failed call libjpeg's state machine may be left mid-header (the error longjmps
    /// past its cleanup), and the next image on that handle then decodes wrongly: start afresh.</summary>
    private static void ResetHandle()
    {
        t_handle?.Destroy();
        t_handle = null;
    }

    private static ImageDecodeException Fail(string message)
    {
        ResetHandle();
        return new ImageDecodeException(message);
    }

    [ThreadStatic] private static Handle? t_handle;
    private static TurboJpegNative.ScalingFactor[]? s_factors;

    public static bool IsJpeg(ReadOnlySpan<byte> data) => data.Length >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF;

    private static nint CurrentHandle()
    {
        Handle h;
        try
        {
            h = t_handle ??= new Handle();
        }
        catch (DllNotFoundException e)
        {
            throw new DatasetException($"cannot load {TurboJpegNative.Library} (install the libturbojpeg0 package)", e);
        }
        if (h.Value == 0) throw new DatasetException("tjInitDecompress failed");
        return h.Value;
    }

    /// <summary>Scaling factors below or at 1, largest first (8/8, 7/8, ... 1/8).</summary>
    private static TurboJpegNative.ScalingFactor[] Factors()
    {
        if (s_factors is { } f) return f;
        var p = TurboJpegNative.GetScalingFactors(out int n);
        var list = new List<TurboJpegNative.ScalingFactor>();
        for (int i = 0; i < n; i++)
            if (p[i].Num <= p[i].Denom) list.Add(p[i]);
        list.Sort((a, b) => ((double)b.Num / b.Denom).CompareTo((double)a.Num / a.Denom));
        s_factors = [.. list];
        return s_factors;
    }

    private static int Scaled(int dim, TurboJpegNative.ScalingFactor f) => (dim * f.Num + f.Denom - 1) / f.Denom;

    /// <summary>Reads width and height from the header.</summary>
    public static (int Width, int Height) ReadSize(ReadOnlySpan<byte> data)
    {
        nint h = CurrentHandle();
        fixed (byte* p = data)
        {
            if (TurboJpegNative.DecompressHeader3(h, p, (nuint)data.Length, out int w, out int hh, out _, out _) != 0)
                throw Fail($"bad JPEG header: {TurboJpegNative.ErrorMessage(h)}");
            return (w, hh);
        }
    }

    /// <summary>Decodes to <paramref name="channels"/> (1 gray or 3 RGB) into <paramref name="destination"/>. An image of
    /// more than <paramref name="maxPixels"/> pixels is refused from its header, before libjpeg allocates anything
    /// of its size (a progressive JPEG buffers the coefficients of the whole image at full resolution).</summary>
    public static void Decode(ReadOnlySpan<byte> data, ImageBuffer destination, int channels, IDecodeScaleChooser? scale = null,
        long maxPixels = ImageLimits.DefaultMaxPixels)
    {
        nint h = CurrentHandle();
        try
        {
            Decode(h, data, destination, channels, scale, maxPixels);
        }
        catch (Exception e) when (e is not DatasetException)
        {
            throw Fail($"{e.GetType().Name} while decoding a JPEG: {e.Message}");
        }
        catch (ImageDecodeException)
        {
            ResetHandle();
            throw;
        }
    }

    private static void Decode(nint h, ReadOnlySpan<byte> data, ImageBuffer destination, int channels, IDecodeScaleChooser? scale, long maxPixels)
    {
        fixed (byte* p = data)
        {
            if (TurboJpegNative.DecompressHeader3(h, p, (nuint)data.Length, out int width, out int height, out _, out int colorspace) != 0)
                throw new ImageDecodeException($"bad JPEG header: {TurboJpegNative.ErrorMessage(h)}");
            if (colorspace is TurboJpegNative.ColorspaceCmyk or TurboJpegNative.ColorspaceYcck)
                throw new ImageDecodeException("CMYK JPEG is not supported (convert the image to RGB)");
            ImageLimits.CheckPixels(width, height, maxPixels);

            int outW = width, outH = height;
            if (scale is not null)
            {
                double min = scale.MinimumScale(width, height);
                // The smallest factor whose output still reaches the requested size along both axes.
                foreach (var f in Factors())
                {
                    int sw = Scaled(width, f), sh = Scaled(height, f);
                    if (sw >= width * min && sh >= height * min) { outW = sw; outH = sh; }
                    else break;
                }
            }
            var dst = destination.Reset(outW, outH, channels, width, height);
            int format = channels == 1 ? TurboJpegNative.PixelFormatGray : TurboJpegNative.PixelFormatRgb;
            fixed (byte* d = dst)
            {
                // tjDecompress2 picks the scaling factor from the requested size; 0 pitch = packed rows.
                if (TurboJpegNative.Decompress2(h, p, (nuint)data.Length, d, outW, 0, outH, format, 0) != 0)
                {
                    // Like PIL: libjpeg warnings about recoverable oddities (extraneous bytes, ...) are
                    // accepted, but a truncated file (libjpeg pads it with gray) is an error.
                    string message = TurboJpegNative.ErrorMessage(h);
                    bool warning = TurboJpegNative.GetErrorCode(h) == TurboJpegNative.ErrorWarning;
                    if (!warning || message.Contains("Premature end", StringComparison.OrdinalIgnoreCase))
                        throw new ImageDecodeException($"corrupt or truncated JPEG: {message}");
                }
            }
        }
    }
}
