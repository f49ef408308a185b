using System.Runtime.InteropServices;

namespace Vicreg.Engine.Data.Decoding;

/// <summary>
/// Bindings to libjpeg-turbo's TurboJPEG API (turbojpeg.h, 2.x; Debian package libturbojpeg0). Only
/// what decoding needs, plus the compressor the tests use to write JPEGs. <c>unsigned long</c> is 64
/// bits on Linux x64, hence <c>nuint</c>.
/// </summary>
internal static unsafe partial class TurboJpegNative
{
    public const string Library = "libturbojpeg.so.0";

    // TJPF pixel formats
    public const int PixelFormatRgb = 0;
    public const int PixelFormatGray = 6;
    // TJSAMP chroma subsampling
    public const int Subsampling444 = 0;
    public const int Subsampling420 = 2;
    public const int SubsamplingGray = 3;
    // TJCS color spaces reported by tjDecompressHeader3
    public const int ColorspaceRgb = 0;
    public const int ColorspaceYCbCr = 1;
    public const int ColorspaceGray = 2;
    public const int ColorspaceCmyk = 3;
    public const int ColorspaceYcck = 4;
    // TJFLAG
    public const int FlagNoRealloc = 1024;
    public const int FlagAccurateDct = 4096;
    public const int FlagStopOnWarning = 8192;
    public const int FlagProgressive = 16384;

    [StructLayout(LayoutKind.Sequential)]
    internal struct ScalingFactor
    {
        public int Num;
        public int Denom;
    }

    [LibraryImport(Library, EntryPoint = "tjInitDecompress")]
    public static partial nint InitDecompress();

    [LibraryImport(Library, EntryPoint = "tjInitCompress")]
    public static partial nint InitCompress();

    [LibraryImport(Library, EntryPoint = "tjDestroy")]
    public static partial int Destroy(nint handle);

    [LibraryImport(Library, EntryPoint = "tjDecompressHeader3")]
    public static partial int DecompressHeader3(nint handle, byte* jpegBuf, nuint jpegSize, out int width, out int height, out int jpegSubsamp, out int jpegColorspace);

    [LibraryImport(Library, EntryPoint = "tjDecompress2")]
    public static partial int Decompress2(nint handle, byte* jpegBuf, nuint jpegSize, byte* dstBuf, int width, int pitch, int height, int pixelFormat, int flags);

    [LibraryImport(Library, EntryPoint = "tjGetScalingFactors")]
    public static partial ScalingFactor* GetScalingFactors(out int numScalingFactors);

    [LibraryImport(Library, EntryPoint = "tjGetErrorStr2")]
    public static partial nint GetErrorStr2(nint handle);

    /// <summary>TJERR_WARNING (1): the image was decoded, with a libjpeg warning; TJERR_FATAL (0).</summary>
    [LibraryImport(Library, EntryPoint = "tjGetErrorCode")]
    public static partial int GetErrorCode(nint handle);

    public const int ErrorWarning = 1;

    [LibraryImport(Library, EntryPoint = "tjCompress2")]
    public static partial int Compress2(nint handle, byte* srcBuf, int width, int pitch, int height, int pixelFormat, ref byte* jpegBuf, ref nuint jpegSize, int jpegSubsamp, int jpegQual, int flags);

    [LibraryImport(Library, EntryPoint = "tjFree")]
    public static partial void Free(byte* buffer);

    public static string ErrorMessage(nint handle) => Marshal.PtrToStringUTF8(GetErrorStr2(handle)) ?? "unknown TurboJPEG error";
}
