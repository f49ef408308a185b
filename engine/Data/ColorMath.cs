using System.Runtime.CompilerServices;

namespace Vicreg.Engine.Data;

/// <summary>Color conversions shared by decoders and transforms, written as PIL computes them.</summary>
internal static class ColorMath
{
    /// <summary>ITU-R 601-2 luma in PIL's fixed point (Convert.c L24): L = (19595 R + 38470 G + 7471 B + 2^15) >> 16.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static byte Luma(int r, int g, int b) => (byte)((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16);
}
