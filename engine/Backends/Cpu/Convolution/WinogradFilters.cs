using System.Runtime.Intrinsics.X86;
using System.Runtime.Intrinsics;
using Vicreg.Engine.Backends.Cpu.Gemm;

namespace Vicreg.Engine.Backends.Cpu.Convolution;

/// <summary>
/// Whole weight tensors to and from the 16 transformed filter matrices: U[e] [K x C] = (G w[k, c] G^T)[e],
/// and dW[k, c] = G^T dU[k, c] G. The transforms run a vector of input channels at a time (a filter per
/// lane); the nine taps of each filter are gathered into (or scattered from) a small tap-major block.
/// </summary>
internal static unsafe class WinogradFilters
{
    /// <summary>U[e][o][i] for the 3x3 weights <paramref name="weight"/>: [O, I, 3, 3] as stored, or, when
    /// <paramref name="flipped"/>, the weights of the backward-data convolution taken from a forward weight
    /// tensor [I, O, 3, 3] rotated by 180 degrees (U[e][o][i] from w[i, o, 2 - kh, 2 - kw]). Matrix e at
    /// <c>u + e * O * I</c>. Runs over all threads (split by output channel).</summary>
    public static void Transform<T>(T* weight, int outChannels, int inChannels, bool flipped, T* u) where T : unmanaged
        => Transform(weight, outChannels, inChannels, flipped, u, new F2x2());

    /// <summary><see cref="Transform{T}(T*, int, int, bool, T*)"/> through the filter transform <paramref name="transform"/>
    /// (F(2x2, 3x3) or F(4x4, 3x3)), its <see cref="IFilterTransform.Elements"/> matrices at <c>u + e * O * I</c>.</summary>
    public static void Transform<T, TTransform>(T* weight, int outChannels, int inChannels, bool flipped, T* u, TTransform transform)
        where T : unmanaged where TTransform : struct, IFilterTransform
    {
        var body = new TransformBody<T, TTransform> { Weight = weight, Out = outChannels, In = inChannels, Flipped = flipped, U = u };
        CpuParallel.For(outChannels, ref body);
    }

    /// <summary>A filter transform a vector of filters at a time: taps tap-major (tap t at <c>taps + t * count</c>),
    /// element e to <c>u + e * stride</c>; and its adjoint, from the elements' gradients to the taps'.
    /// <c>tmp</c> holds <see cref="WinogradF4Transforms.Scratch"/> elements.</summary>
    internal interface IFilterTransform
    {
        int Elements { get; }
        void Filter<T>(T* taps, T* u, nint stride, T* tmp) where T : unmanaged;
        void FilterGradient<T>(T* du, nint stride, T* taps, T* tmp) where T : unmanaged;
    }

    internal readonly struct F2x2 : IFilterTransform
    {
        public int Elements => WinogradTransforms.Elements;
        public void Filter<T>(T* taps, T* u, nint stride, T* tmp) where T : unmanaged => WinogradTransforms.Filter(taps, u, stride);
        public void FilterGradient<T>(T* du, nint stride, T* taps, T* tmp) where T : unmanaged => WinogradTransforms.FilterGradient(du, stride, taps);
    }

    /// <summary>F(4x4, 3x3), float only.</summary>
    internal readonly struct F4x4 : IFilterTransform
    {
        public int Elements => WinogradF4Transforms.Elements;
        public void Filter<T>(T* taps, T* u, nint stride, T* tmp) where T : unmanaged
            => WinogradF4Transforms.Filter((float*)taps, (float*)u, stride, (float*)tmp);
        public void FilterGradient<T>(T* du, nint stride, T* taps, T* tmp) where T : unmanaged
            => WinogradF4Transforms.FilterGradient((float*)du, stride, (float*)taps, (float*)tmp);
    }

    private struct TransformBody<T, TTransform> : IRangeBody where T : unmanaged where TTransform : struct, IFilterTransform
    {
        public T* Weight, U;
        public int Out, In;
        public bool Flipped;

        public readonly void Run(int start, int end)
        {
            int v = Vector256<T>.Count;
            nint stride = (nint)Out * In;
            var transform = default(TTransform);
            T* taps = stackalloc T[9 * Vector256<T>.Count];
            T* tile = stackalloc T[WinogradF4Transforms.Elements * Vector256<T>.Count];
            T* tmp = stackalloc T[WinogradF4Transforms.Scratch];
            for (int o = start; o < end; o++)
            {
                for (int i0 = 0; i0 < In; i0 += v)
                {
                    int lanes = Math.Min(v, In - i0);
                    if (typeof(T) == typeof(float) && Avx2.IsSupported && lanes == v)
                    {
                        if (Flipped) GatherFlippedFloat(o, i0, (float*)taps);
                        else GatherFloat(o, i0, (float*)taps);
                    }
                    else if (Flipped) GatherFlipped(o, i0, lanes, taps);
                    else Gather(o, i0, lanes, taps);
                    T* dst = U + (nint)o * In + i0;
                    if (lanes == v)
                    {
                        transform.Filter(taps, dst, stride, tmp);
                        continue;
                    }
                    // A partial vector must not spill into the next row, which another thread may own.
                    transform.Filter(taps, tile, v, tmp);
                    for (int e = 0; e < transform.Elements; e++)
                        for (int l = 0; l < lanes; l++) dst[e * stride + l] = tile[e * v + l];
                }
            }
        }

        /// <summary><see cref="Gather"/> for a whole vector of float filters: taps 0..7 of each filter are one
        /// unaligned load, and an 8x8 register transpose turns filters-by-taps into taps-by-filters (72 scalar
        /// copies cost as much as the transform itself at 512 channels; hardware gathers cost more).</summary>
        private readonly void GatherFloat(int o, int i0, float* taps)
        {
            float* w = (float*)Weight + ((nint)o * In + i0) * 9;
            var r0 = Vector256.Load(w); var r1 = Vector256.Load(w + 9); var r2 = Vector256.Load(w + 18); var r3 = Vector256.Load(w + 27);
            var r4 = Vector256.Load(w + 36); var r5 = Vector256.Load(w + 45); var r6 = Vector256.Load(w + 54); var r7 = Vector256.Load(w + 63);
            VectorTranspose.Transpose8x8(ref r0, ref r1, ref r2, ref r3, ref r4, ref r5, ref r6, ref r7);
            r0.Store(taps); r1.Store(taps + 8); r2.Store(taps + 16); r3.Store(taps + 24);
            r4.Store(taps + 32); r5.Store(taps + 40); r6.Store(taps + 48); r7.Store(taps + 56);
            for (int l = 0; l < 8; l++) taps[64 + l] = w[l * 9 + 8];
        }

        /// <summary><see cref="GatherFlipped"/> for a whole vector of float filters: taps 8..1 of each (rotated)
        /// filter are one load, reversed, then transposed as in <see cref="GatherFloat"/>.</summary>
        private readonly void GatherFlippedFloat(int o, int i0, float* taps)
        {
            float* w = (float*)Weight + ((nint)i0 * Out + o) * 9;
            nint step = (nint)Out * 9;
            var reverse = Vector256.Create(7, 6, 5, 4, 3, 2, 1, 0);
            var r0 = Avx2.PermuteVar8x32(Vector256.Load(w + 1), reverse);
            var r1 = Avx2.PermuteVar8x32(Vector256.Load(w + step + 1), reverse);
            var r2 = Avx2.PermuteVar8x32(Vector256.Load(w + 2 * step + 1), reverse);
            var r3 = Avx2.PermuteVar8x32(Vector256.Load(w + 3 * step + 1), reverse);
            var r4 = Avx2.PermuteVar8x32(Vector256.Load(w + 4 * step + 1), reverse);
            var r5 = Avx2.PermuteVar8x32(Vector256.Load(w + 5 * step + 1), reverse);
            var r6 = Avx2.PermuteVar8x32(Vector256.Load(w + 6 * step + 1), reverse);
            var r7 = Avx2.PermuteVar8x32(Vector256.Load(w + 7 * step + 1), reverse);
            VectorTranspose.Transpose8x8(ref r0, ref r1, ref r2, ref r3, ref r4, ref r5, ref r6, ref r7);
            r0.Store(taps); r1.Store(taps + 8); r2.Store(taps + 16); r3.Store(taps + 24);
            r4.Store(taps + 32); r5.Store(taps + 40); r6.Store(taps + 48); r7.Store(taps + 56);
            for (int l = 0; l < 8; l++) taps[64 + l] = w[l * step];
        }

        /// <summary>taps[t, l] = w[o, i0 + l, t]: the lanes' filters lie one after another. Spare lanes (past
        /// the last input channel) repeat the last filter.</summary>
        private readonly void Gather(int o, int i0, int lanes, T* taps)
        {
            int v = Vector256<T>.Count;
            T* w = Weight + ((nint)o * In + i0) * 9;
            for (int l = 0; l < v; l++)
            {
                T* f = w + Math.Min(l, lanes - 1) * 9;
                T* d = taps + l;
                d[0] = f[0]; d[v] = f[1]; d[2 * v] = f[2]; d[3 * v] = f[3]; d[4 * v] = f[4];
                d[5 * v] = f[5]; d[6 * v] = f[6]; d[7 * v] = f[7]; d[8 * v] = f[8];
            }
        }

        /// <summary>taps[t, l] = w[i0 + l, o, 8 - t] (the backward-data filters: transposed, rotated 180 degrees).</summary>
        private readonly void GatherFlipped(int o, int i0, int lanes, T* taps)
        {
            int v = Vector256<T>.Count;
            for (int l = 0; l < v; l++)
            {
                T* f = Weight + ((nint)(i0 + Math.Min(l, lanes - 1)) * Out + o) * 9;
                T* d = taps + l;
                d[0] = f[8]; d[v] = f[7]; d[2 * v] = f[6]; d[3 * v] = f[5]; d[4 * v] = f[4];
                d[5 * v] = f[3]; d[6 * v] = f[2]; d[7 * v] = f[1]; d[8 * v] = f[0];
            }
        }
    }

    /// <summary>Packs each U[e] [O x I] as the A operand of the GEMM (<see cref="GemmKernel.PackWholeA{T}"/>),
    /// matrix e at <c>packed + e * <see cref="PackedSize{T}"/></c>. Runs over all threads (split by e).</summary>
    public static void Pack<T>(T* u, int outChannels, int inChannels, T* packed) where T : unmanaged
        => Pack(u, outChannels, inChannels, WinogradTransforms.Elements, packed);

    /// <summary><see cref="Pack{T}(T*, int, int, T*)"/> for <paramref name="elements"/> matrices.</summary>
    public static void Pack<T>(T* u, int outChannels, int inChannels, int elements, T* packed) where T : unmanaged
    {
        var body = new PackBody<T> { U = u, Out = outChannels, In = inChannels, Packed = packed };
        CpuParallel.For(elements, ref body);
    }

    public static long PackedSize<T>(int outChannels, int inChannels) where T : unmanaged
        => GemmKernel.PackedASize<T>(outChannels, inChannels);

    private struct PackBody<T> : IRangeBody where T : unmanaged
    {
        public T* U, Packed;
        public int Out, In;

        public readonly void Run(int start, int end)
        {
            long size = PackedSize<T>(Out, In);
            for (int e = start; e < end; e++)
                GemmKernel.PackWholeA(false, Out, In, GemmKernel.One<T>(), U + e * (nint)Out * In, In, Packed + e * size);
        }
    }

    /// <summary>dW[k, c] = G^T dU[k, c] G into <paramref name="dweight"/> [K, C, 3, 3], from dU[e][k][c] at
    /// <c>du + e * K * C</c> (F(2x2, 3x3)'s 16 matrices), which needs a vector of readable slack past its end.
    /// On the calling thread.</summary>
    public static void Gradient<T>(T* du, int outChannels, int inChannels, T* dweight) where T : unmanaged
        => Gradient(du, outChannels, inChannels, dweight, new F2x2());

    /// <summary><see cref="Gradient{T}(T*, int, int, T*)"/> through the adjoint of <paramref name="transform"/>,
    /// from its <see cref="IFilterTransform.Elements"/> matrices.</summary>
    public static void Gradient<T, TTransform>(T* du, int outChannels, int inChannels, T* dweight, TTransform transform)
        where T : unmanaged where TTransform : struct, IFilterTransform
    {
        int v = Vector256<T>.Count;
        nint stride = (nint)outChannels * inChannels;
        T* taps = stackalloc T[9 * Vector256<T>.Count];
        T* tmp = stackalloc T[WinogradF4Transforms.Scratch];
        for (int k = 0; k < outChannels; k++)
        {
            for (int c0 = 0; c0 < inChannels; c0 += v)
            {
                transform.FilterGradient(du + (nint)k * inChannels + c0, stride, taps, tmp);
                int lanes = Math.Min(v, inChannels - c0);
                T* w = dweight + ((nint)k * inChannels + c0) * 9;
                if (typeof(T) == typeof(float) && Avx.IsSupported && lanes == v)
                {
                    ScatterFloat((float*)taps, (float*)w);
                    continue;
                }
                for (int l = 0; l < lanes; l++)
                    for (int t = 0; t < 9; t++) w[l * 9 + t] = taps[t * v + l];
            }
        }
    }

    /// <summary>The eight filters' taps (tap-major, a vector per tap) stored filter by filter: taps 0..7 of the
    /// filters go through an 8x8 register transpose and one unaligned store each, tap 8 one by one.</summary>
    private static void ScatterFloat(float* taps, float* w)
    {
        var r0 = Vector256.Load(taps); var r1 = Vector256.Load(taps + 8); var r2 = Vector256.Load(taps + 16); var r3 = Vector256.Load(taps + 24);
        var r4 = Vector256.Load(taps + 32); var r5 = Vector256.Load(taps + 40); var r6 = Vector256.Load(taps + 48); var r7 = Vector256.Load(taps + 56);
        VectorTranspose.Transpose8x8(ref r0, ref r1, ref r2, ref r3, ref r4, ref r5, ref r6, ref r7);
        // Filter l's taps 0..7 end before filter l + 1 begins: the stores do not overlap.
        r0.Store(w); r1.Store(w + 9); r2.Store(w + 18); r3.Store(w + 27);
        r4.Store(w + 36); r5.Store(w + 45); r6.Store(w + 54); r7.Store(w + 63);
        for (int l = 0; l < 8; l++) w[l * 9 + 8] = taps[64 + l];
    }
}
