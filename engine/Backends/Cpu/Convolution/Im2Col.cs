using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Vicreg.Engine.Backends.Cpu.Convolution;

/// <summary>
/// Lowering of one image to and from the column matrix of a convolution: row (c, kh, kw), column
/// (oh, ow) holds the input pixel that kernel tap meets at that output position (zero in the padding).
/// The column matrix is written with a row stride, so several images can sit side by side in one matrix.
/// </summary>
internal static unsafe class Im2Col
{
    /// <summary>Output pixels per lowered block of a large image: the block's column matrix (e.g. 576 x 256
    /// floats) then stays in L2 from lowering through packing, where a whole 32x32 image's (2.4 MB) would not.</summary>
    public const int BlockPixels = 256;

    /// <summary>The bands of output rows an image is lowered in: one band when the image is small, else as few as keep
    /// each within <see cref="BlockPixels"/> pixels (or one row), as even as the rows allow, so that no band is a sliver
    /// whose GEMM is all fixed cost (28 rows of 28 pixels make 4 bands of 7, not 3 of 9 and a last of 1).</summary>
    public static RowBands Bands(in Conv2dGeometry g)
    {
        int rows = Math.Max(g.OutHeight, 1);
        int most = Math.Clamp(BlockPixels / Math.Max(g.OutWidth, 1), 1, rows);
        return new RowBands(rows, (rows + most - 1) / most);
    }

    /// <summary>How a convolution lowers a unit of <paramref name="tile"/> images (<see cref="ImageTile"/>): a single
    /// large image band by band (<see cref="Bands"/>), else the whole unit at once; and how many elements its column
    /// matrix needs, none when the unit is one image of a pointwise convolution (the image is its own column matrix).</summary>
    public static ColumnPlan Plan(in Conv2dGeometry g, int tile)
    {
        var bands = Bands(g);
        bool banded = tile == 1 && !g.IsPointwise && bands.Count > 1;
        long crs = (long)g.InChannels * g.KernelHeight * g.KernelWidth;
        long elements = g.IsPointwise && tile == 1 ? 0
            : banded ? crs * bands.MostRows * g.OutWidth
            : crs * g.OutHeight * g.OutWidth * tile;
        return new ColumnPlan(bands, banded, elements);
    }

    /// <summary>col[(c,kh,kw), (oh,ow)] = x[c, oh*sh - ph + kh, ow*sw - pw + kw] (0 outside the image),
    /// for one image <paramref name="x"/> [C, H, W]; rows of <paramref name="col"/> are <paramref name="ldCol"/> apart.</summary>
    public static void Lower<T>(in Conv2dGeometry g, T* x, T* col, nint ldCol) where T : unmanaged
        => Lower(g, x, 0, g.OutHeight, col, ldCol);

    /// <summary><see cref="Lower{T}(in Conv2dGeometry, T*, T*, nint)"/> for output rows [oh0, oh1) only:
    /// column (oh - oh0) * OW + ow of <paramref name="col"/>.</summary>
    public static void Lower<T>(in Conv2dGeometry g, T* x, int oh0, int oh1, T* col, nint ldCol) where T : unmanaged
        => Walk(g, x, oh0, oh1, col, ldCol, new Gather<T>());

    /// <summary>The adjoint of <c>Lower</c>: dx[c, ih, iw] += every column entry that read that
    /// pixel. <paramref name="dx"/> [C, H, W] must be initialized (usually zeroed) by the caller.</summary>
    public static void Raise<T>(in Conv2dGeometry g, T* col, nint ldCol, T* dx) where T : unmanaged, INumberBase<T>
        => Raise(g, 0, g.OutHeight, col, ldCol, dx);

    /// <summary><see cref="Raise{T}(in Conv2dGeometry, T*, nint, T*)"/> for the columns of output rows [oh0, oh1).</summary>
    public static void Raise<T>(in Conv2dGeometry g, int oh0, int oh1, T* col, nint ldCol, T* dx) where T : unmanaged, INumberBase<T>
        => Walk(g, dx, oh0, oh1, col, ldCol, new ScatterAdd<T>());

    /// <summary>What happens between one column-matrix row segment (one output row of one kernel tap) and the
    /// image row it meets; a struct, so each direction's loop is compiled with its own body inlined.</summary>
    private interface IRowTransfer<T> where T : unmanaged
    {
        /// <summary>The tap's input row lies above or below the image (all padding).</summary>
        void OutsideImage(T* row, int ow);

        /// <summary>Output columns [owStart, owEnd) meet image pixels src[xo * sw]; the rest meet padding. The
        /// image row continues up to (not including) src[<paramref name="readable"/>].</summary>
        void InsideImage(T* src, T* row, int owStart, int owEnd, int ow, int sw, int readable);
    }

    /// <summary>The loops shared by <see cref="Lower{T}(in Conv2dGeometry, T*, int, int, T*, nint)"/> and its
    /// adjoint: every (c, kh, kw) row of the column matrix, every output row in [oh0, oh1), with the range of
    /// output columns whose input column lies inside the image.</summary>
    private static void Walk<T, TTransfer>(in Conv2dGeometry g, T* image, int oh0, int oh1, T* col, nint ldCol, TTransfer transfer)
        where T : unmanaged where TTransfer : struct, IRowTransfer<T>
    {
        int ow = g.OutWidth, h = g.InHeight, w = g.InWidth;
        int sh = g.StrideHeight, sw = g.StrideWidth;
        for (int c = 0; c < g.InChannels; c++)
        {
            T* plane = image + (nint)c * h * w;
            for (int kh = 0; kh < g.KernelHeight; kh++)
            {
                for (int kw = 0; kw < g.KernelWidth; kw++)
                {
                    T* row = col + ((nint)(c * g.KernelHeight + kh) * g.KernelWidth + kw) * ldCol;
                    // Output columns whose input column lies inside the image: [owStart, owEnd).
                    int iw0 = kw - g.PadWidth;
                    int owStart = iw0 >= 0 ? 0 : Math.Min(ow, (-iw0 + sw - 1) / sw);
                    int owEnd = Math.Max(owStart, Math.Min(ow, (w - iw0 + sw - 1) / sw));
                    for (int y = oh0; y < oh1; y++, row += ow)
                    {
                        int ih = y * sh - g.PadHeight + kh;
                        if ((uint)ih >= (uint)h) transfer.OutsideImage(row, ow);
                        else transfer.InsideImage(plane + (nint)ih * w + iw0, row, owStart, owEnd, ow, sw, w - iw0);
                    }
                }
            }
        }
    }

    /// <summary>Lowering: the row takes the image's pixels and zeros for the padding.</summary>
    private readonly struct Gather<T> : IRowTransfer<T> where T : unmanaged
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void OutsideImage(T* row, int ow) => new Span<T>(row, ow).Clear();

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void InsideImage(T* src, T* row, int owStart, int owEnd, int ow, int sw, int readable)
        {
            for (int xo = 0; xo < owStart; xo++) row[xo] = default;
            if (sw == 1)
                CopyShort(src + owStart, row + owStart, owEnd - owStart);
            else if (sw == 2 && typeof(T) == typeof(float) && Avx2.IsSupported)
                GatherEven((float*)src, (float*)row, owStart, owEnd, readable);
            else
                for (int xo = owStart; xo < owEnd; xo++) row[xo] = src[xo * sw];
            for (int xo = owEnd; xo < ow; xo++) row[xo] = default;
        }
    }

    /// <summary>Raising: the row's entries that met image pixels are added back into them; padding drops out.</summary>
    private readonly struct ScatterAdd<T> : IRowTransfer<T> where T : unmanaged, INumberBase<T>
    {
        public void OutsideImage(T* row, int ow) { }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void InsideImage(T* dst, T* row, int owStart, int owEnd, int ow, int sw, int readable)
        {
            if (sw == 1)
            {
                AddInPlace(new Span<T>(dst + owStart, owEnd - owStart), new ReadOnlySpan<T>(row + owStart, owEnd - owStart));
                return;
            }
            int xo = owStart;
            if (sw == 2 && typeof(T) == typeof(float) && Avx2.IsSupported)
            {
                // Eight outputs add into sixteen pixels, the odd ones unchanged (+0), while those lie in the row.
                for (; xo + 8 <= owEnd && 2 * xo + 16 <= readable; xo += 8)
                {
                    float* d = (float*)dst + 2 * xo;
                    var r = Vector256.Load((float*)row + xo);
                    var lo = Avx.UnpackLow(r, Vector256<float>.Zero);
                    var hi = Avx.UnpackHigh(r, Vector256<float>.Zero);
                    (Vector256.Load(d) + Avx.Permute2x128(lo, hi, 0x20)).Store(d);
                    (Vector256.Load(d + 8) + Avx.Permute2x128(lo, hi, 0x31)).Store(d + 8);
                }
            }
            for (; xo < owEnd; xo++) dst[xo * sw] += row[xo];
        }
    }

    /// <summary>row[xo] = src[2 xo] for xo in [owStart, owEnd), eight at a time from sixteen contiguous pixels
    /// while those lie in the image row (src[0 .. readable)); the last vector may overlap the previous one
    /// instead of a scalar tail. Stride-2 lowering otherwise goes an element at a time.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void GatherEven(float* src, float* row, int owStart, int owEnd, int readable)
    {
        int xo = owStart;
        int last = Math.Min(owEnd - 8, (readable - 16) >> 1); // the last whole vector that stays in the row
        if (last >= owStart)
        {
            for (; xo < last; xo += 8) Even(src + 2 * xo).Store(row + xo);
            Even(src + 2 * last).Store(row + last);
            xo = last + 8;
        }
        for (; xo < owEnd; xo++) row[xo] = src[2 * xo];
    }

    /// <summary>The even elements of the sixteen at <paramref name="src"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Even(float* src)
    {
        // Within each 128-bit lane: [a0 a2 b0 b2 | a4 a6 b4 b6], then the 64-bit pairs reordered.
        var e = Avx.Shuffle(Vector256.Load(src), Vector256.Load(src + 8), 0b10_00_10_00).AsDouble();
        return Avx2.Permute4x64(e, 0b11_01_10_00).AsSingle();
    }

    /// <summary>Copies a short run (an image row: 4 to a few dozen elements) with vector moves whose last one
    /// overlaps the previous, avoiding the fixed cost of a general memory copy on every row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CopyShort<T>(T* src, T* dst, int count) where T : unmanaged
    {
        int v = Vector256<T>.Count;
        if (count >= v)
        {
            int i = 0;
            for (; i + v < count; i += v) Vector256.Load(src + i).Store(dst + i);
            Vector256.Load(src + count - v).Store(dst + count - v);
        }
        else if (count >= Vector128<T>.Count)
        {
            Vector128.Load(src).Store(dst);
            Vector128.Load(src + count - Vector128<T>.Count).Store(dst + count - Vector128<T>.Count);
        }
        else
        {
            for (int i = 0; i < count; i++) dst[i] = src[i];
        }
    }

    private static void AddInPlace<T>(Span<T> destination, ReadOnlySpan<T> source) where T : unmanaged, INumberBase<T>
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated && Vector<T>.IsSupported)
        {
            for (; i + Vector<T>.Count <= destination.Length; i += Vector<T>.Count)
            {
                var sum = new Vector<T>(destination[i..]) + new Vector<T>(source[i..]);
                sum.CopyTo(destination[i..]);
            }
        }
        for (; i < destination.Length; i++) destination[i] += source[i];
    }
}

/// <summary>A unit's lowering (<see cref="Im2Col.Plan"/>): <see cref="Banded"/> when a single image goes band by band
/// of <see cref="Bands"/>; <see cref="ColumnElements"/> the column matrix's size, 0 when no lowering is needed.</summary>
internal readonly record struct ColumnPlan(RowBands Bands, bool Banded, long ColumnElements);

/// <summary><paramref name="rows"/> output rows cut into <paramref name="count"/> bands of consecutive rows whose
/// sizes differ by at most one.</summary>
internal readonly struct RowBands(int rows, int count)
{
    public int Count => count;
    /// <summary>Rows of the largest band (what a band's column matrix must hold).</summary>
    public int MostRows => (rows + count - 1) / count;
    /// <summary>First row of band <paramref name="band"/>; <c>Start(Count)</c> is the number of rows.</summary>
    public int Start(int band) => (int)((long)band * rows / count);
}
