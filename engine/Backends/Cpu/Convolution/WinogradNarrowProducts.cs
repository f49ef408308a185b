using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Vicreg.Engine.Backends.Cpu.Convolution;

/// <summary>
/// The 36 element-wise products of F(4x4, 3x3) for narrow layers, without the GEMM: M^T[e][tile][k] =
/// Σ_c V^T[e][tile][c] U^T[e][c][k]. With 16 or 32 channels each product is a GEMM of depth 16 or 32, whose
/// packing of V^T and per-call overhead cost as much as its multiplies; here V^T's rows are used as they are
/// (one broadcast per tile and channel) against U^T's rows of output channels, six tiles by sixteen output
/// channels in twelve accumulators. The result is tile-major, M^T (a tile's output channels contiguous),
/// which <see cref="WinogradF4"/>'s output transform then takes a vector of channels at a time.
/// </summary>
internal static unsafe class WinogradNarrowProducts
{
    private const int Lanes = 8;
    /// <summary>Output channels per pass: two vectors.</summary>
    private const int Width = 2 * Lanes;

    /// <summary>For layers of at most this many input channels (the products' depth). Measured at batch 128 against
    /// the GEMMs, interleaved in one run: 1.25-1.6x faster at 16 channels on 28x28 (forward and backward-data),
    /// about 1.2x forward and even backward-data at 32 on 14x14, even at 64 on 7x7, 1.5x slower at 128 on 4x4.</summary>
    internal const int MaxInChannels = 32;

    /// <summary>Whether a float F(4x4) convolution with <paramref name="inChannels"/> and <paramref name="outChannels"/>
    /// goes through these products: output channels a whole number of passes, few input channels, FMA.</summary>
    public static bool Applies(int inChannels, int outChannels)
        => Fma.IsSupported && outChannels % Width == 0 && inChannels <= MaxInChannels;

    /// <summary>ut[c][k] = u[k][c] for each of the <paramref name="elements"/> matrices (U^T from the transformed filters).</summary>
    public static void Transpose(float* u, int k, int c, int elements, float* ut)
    {
        for (int e = 0; e < elements; e++)
        {
            float* src = u + (nint)e * k * c, dst = ut + (nint)e * k * c;
            for (int o = 0; o < k; o++)
                for (int i = 0; i < c; i++) dst[(nint)i * k + o] = src[(nint)o * c + i];
        }
    }

    /// <summary>mt[t][k] = Σ_c vt[t][c] ut[c][k] for <paramref name="tiles"/> rows of <paramref name="vt"/> (rows
    /// <paramref name="ldV"/> apart) and <paramref name="k"/> output channels (a multiple of 16; rows of mt
    /// <paramref name="ldM"/> apart).</summary>
    public static void Multiply(float* ut, int c, int k, float* vt, int ldV, int tiles, float* mt, int ldM)
    {
        for (int k0 = 0; k0 < k; k0 += Width)
        {
            float* u = ut + k0;
            int t = 0;
            for (; t + 6 <= tiles; t += 6)
            {
                float* v = vt + (nint)t * ldV;
                var a00 = Vector256<float>.Zero; var a01 = Vector256<float>.Zero; var a10 = Vector256<float>.Zero; var a11 = Vector256<float>.Zero;
                var a20 = Vector256<float>.Zero; var a21 = Vector256<float>.Zero; var a30 = Vector256<float>.Zero; var a31 = Vector256<float>.Zero;
                var a40 = Vector256<float>.Zero; var a41 = Vector256<float>.Zero; var a50 = Vector256<float>.Zero; var a51 = Vector256<float>.Zero;
                for (int i = 0; i < c; i++)
                {
                    float* row = u + (nint)i * k;
                    var u0 = Vector256.Load(row);
                    var u1 = Vector256.Load(row + Lanes);
                    var b = Vector256.Create(v[i]);
                    a00 = Fma.MultiplyAdd(b, u0, a00); a01 = Fma.MultiplyAdd(b, u1, a01);
                    b = Vector256.Create(v[ldV + i]);
                    a10 = Fma.MultiplyAdd(b, u0, a10); a11 = Fma.MultiplyAdd(b, u1, a11);
                    b = Vector256.Create(v[2 * ldV + i]);
                    a20 = Fma.MultiplyAdd(b, u0, a20); a21 = Fma.MultiplyAdd(b, u1, a21);
                    b = Vector256.Create(v[3 * ldV + i]);
                    a30 = Fma.MultiplyAdd(b, u0, a30); a31 = Fma.MultiplyAdd(b, u1, a31);
                    b = Vector256.Create(v[4 * ldV + i]);
                    a40 = Fma.MultiplyAdd(b, u0, a40); a41 = Fma.MultiplyAdd(b, u1, a41);
                    b = Vector256.Create(v[5 * ldV + i]);
                    a50 = Fma.MultiplyAdd(b, u0, a50); a51 = Fma.MultiplyAdd(b, u1, a51);
                }
                float* m = mt + (nint)t * ldM + k0;
                a00.Store(m); a01.Store(m + Lanes); m += ldM;
                a10.Store(m); a11.Store(m + Lanes); m += ldM;
                a20.Store(m); a21.Store(m + Lanes); m += ldM;
                a30.Store(m); a31.Store(m + Lanes); m += ldM;
                a40.Store(m); a41.Store(m + Lanes); m += ldM;
                a50.Store(m); a51.Store(m + Lanes);
            }
            for (; t < tiles; t++)
            {
                float* v = vt + (nint)t * ldV;
                var a0 = Vector256<float>.Zero; var a1 = Vector256<float>.Zero;
                for (int i = 0; i < c; i++)
                {
                    float* row = u + (nint)i * k;
                    var b = Vector256.Create(v[i]);
                    a0 = Fma.MultiplyAdd(b, Vector256.Load(row), a0);
                    a1 = Fma.MultiplyAdd(b, Vector256.Load(row + Lanes), a1);
                }
                float* m = mt + (nint)t * ldM + k0;
                a0.Store(m); a1.Store(m + Lanes);
            }
        }
    }
}
