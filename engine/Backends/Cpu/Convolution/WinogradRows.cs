using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Vicreg.Engine.Backends.Cpu.Convolution;

/// <summary>
/// Image rows to and from the layout the Winograd transforms vectorize over. Tile tw of a tile row reads
/// input columns 2tw..2tw+3, so with a row split into its even and odd columns, tile lanes l..l+v-1 read
/// four contiguous vectors (even[l], odd[l], even[l+1], odd[l+1]) instead of a stride-2 gather; and the
/// two output columns of a tile come back interleaved into one contiguous run.
/// </summary>
internal static unsafe class WinogradRows
{
    /// <summary>Rows [r0, r0 + count) of the zero-padded plane (padded row r is image row r - padHeight, padded
    /// column s is image column s - padWidth): padded row r0 + i goes to <c>dst + 2 i length</c> as
    /// even[j] = P[2j] for j &lt; <paramref name="pairs"/>, followed at <c>+ length</c> by odd[j] = P[2j + 1].</summary>
    public static void Split<T>(T* plane, int height, int width, int padHeight, int padWidth, int r0, int count, int pairs, T* dst, int length)
        where T : unmanaged
    {
        for (int i = 0; i < count; i++)
        {
            T* even = dst + (nint)2 * i * length, odd = even + length;
            int ih = r0 + i - padHeight;
            if ((uint)ih >= (uint)height)
            {
                // A padding row: a few elements (a call to a general clear costs more than the stores).
                for (int j = 0; j < pairs; j++)
                {
                    even[j] = default;
                    odd[j] = default;
                }
                continue;
            }
            SplitRow(plane + (nint)ih * width, width, padWidth, pairs, even, odd);
        }
    }

    private static void SplitRow<T>(T* row, int width, int pad, int pairs, T* even, T* odd) where T : unmanaged
    {
        int j = 0;
        // Pairs that start left of the image, then whole vectors inside it, then the rest (right edge).
        int head = Math.Min(pairs, (pad + 1) / 2);
        for (; j < head; j++) SplitPair(row, width, 2 * j - pad, even + j, odd + j);
        if (Avx2.IsSupported && (typeof(T) == typeof(float) || typeof(T) == typeof(double)))
        {
            int v = Vector256<T>.Count;
            for (; j + v <= pairs && 2 * j - pad + 2 * v <= width; j += v)
            {
                Deinterleave(row + 2 * j - pad, out var e, out var o);
                e.Store(even + j);
                o.Store(odd + j);
            }
            // One more vector ending at the image's (or the pairs') edge, overlapping pairs already done,
            // rather than a scalar tail of up to a vector (half of a 32-pixel row at padding 1).
            int last = Math.Min(pairs - v, (width + pad - 2 * v) >> 1);
            if (j > head && j < pairs && last > j - v && last >= head)
            {
                Deinterleave(row + 2 * last - pad, out var e, out var o);
                e.Store(even + last);
                o.Store(odd + last);
                j = last + v;
            }
        }
        for (; j < pairs; j++) SplitPair(row, width, 2 * j - pad, even + j, odd + j);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void SplitPair<T>(T* row, int width, int column, T* even, T* odd) where T : unmanaged
    {
        *even = (uint)column < (uint)width ? row[column] : default;
        *odd = (uint)(column + 1) < (uint)width ? row[column + 1] : default;
    }

    /// <summary>Two vectors' worth of elements from <paramref name="src"/>, split into its even and odd ones.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Deinterleave<T>(T* src, out Vector256<T> even, out Vector256<T> odd) where T : unmanaged
    {
        if (typeof(T) == typeof(float))
        {
            var a = Vector256.Load((float*)src);
            var b = Vector256.Load((float*)src + 8);
            // Within each 128-bit lane: [a0 a2 b0 b2 | a4 a6 b4 b6], then the 64-bit pairs reordered.
            var e = Avx.Shuffle(a, b, 0b10_00_10_00).AsDouble();
            var o = Avx.Shuffle(a, b, 0b11_01_11_01).AsDouble();
            even = Avx2.Permute4x64(e, 0b11_01_10_00).As<double, T>();
            odd = Avx2.Permute4x64(o, 0b11_01_10_00).As<double, T>();
        }
        else
        {
            var a = Vector256.Load((double*)src);
            var b = Vector256.Load((double*)src + 4);
            even = Avx2.Permute4x64(Avx.UnpackLow(a, b), 0b11_01_10_00).As<double, T>();
            odd = Avx2.Permute4x64(Avx.UnpackHigh(a, b), 0b11_01_10_00).As<double, T>();
        }
    }

    /// <summary>dst[2l] = even[l], dst[2l + 1] = odd[l] for the first <paramref name="count"/> (&lt;= 2 v) elements.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Merge<T>(Vector256<T> even, Vector256<T> odd, T* dst, int count) where T : unmanaged
    {
        int v = Vector256<T>.Count;
        if (!Avx.IsSupported || (typeof(T) != typeof(float) && typeof(T) != typeof(double)))
        {
            for (int i = 0; i < count; i++) dst[i] = (i & 1) == 0 ? even.GetElement(i >> 1) : odd.GetElement(i >> 1);
            return;
        }
        Vector256<T> lo, hi;
        if (typeof(T) == typeof(float))
        {
            lo = Avx.UnpackLow(even.AsSingle(), odd.AsSingle()).As<float, T>();
            hi = Avx.UnpackHigh(even.AsSingle(), odd.AsSingle()).As<float, T>();
        }
        else
        {
            lo = Avx.UnpackLow(even.AsDouble(), odd.AsDouble()).As<double, T>();
            hi = Avx.UnpackHigh(even.AsDouble(), odd.AsDouble()).As<double, T>();
        }
        // The unpacks interleave within 128-bit lanes; the lane swap puts the halves in order.
        var first = Avx.Permute2x128(lo.AsDouble(), hi.AsDouble(), 0x20).As<double, T>();
        var second = Avx.Permute2x128(lo.AsDouble(), hi.AsDouble(), 0x31).As<double, T>();
        if (count >= v)
        {
            first.Store(dst);
            if (count == 2 * v) second.Store(dst + v);
            else StorePartial(second, dst + v, count - v);
        }
        else
        {
            StorePartial(first, dst, count);
        }
    }

    /// <summary>The first <paramref name="count"/> lanes of <paramref name="value"/> (a row's last few outputs).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StorePartial<T>(Vector256<T> value, T* dst, int count) where T : unmanaged
    {
        if (count == Vector128<T>.Count)
        {
            value.GetLower().Store(dst); // a 4x4 image's row of four floats, or 2x2 of doubles
            return;
        }
        T* lanes = stackalloc T[Vector256<T>.Count];
        value.Store(lanes);
        for (int i = 0; i < count; i++) dst[i] = lanes[i];
    }
}
