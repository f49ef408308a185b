using System.Runtime.InteropServices;
using Vicreg.Engine.Backends.Cuda.Native;

namespace Vicreg.Engine.Backends.Cuda;

/// <summary>
/// cuDNN is optional and started on its own: finding libcudnn.so.9 proves little (it is a dispatcher that loads its
/// sub-libraries at first use), so the backend creates a handle and runs a tiny convolution in each direction, checking
/// the forward result. Anything that fails leaves convolutions on im2col + cuBLAS, and <see cref="CudnnProblem"/> says
/// why in one line (printed when the device is chosen and by `vicreg devices`); the backend itself still starts.
/// </summary>
public sealed unsafe partial class CudaBackend
{
    /// <summary>Why convolutions do not use cuDNN; null when they do.</summary>
    public string? CudnnProblem { get; private set; }

    /// <summary>"cuDNN 9.1.0", or "im2col + cuBLAS (why not cuDNN)": one line for logs and `vicreg devices`.</summary>
    public string ConvolutionPath =>
        UsesCudnnConvolution ? $"cuDNN {Cudnn.VersionText()} (start-up convolutions passed)" : $"im2col + cuBLAS ({CudnnProblem ?? "forced"})";

    private void StartCudnn()
    {
        string? problem = CudnnLibraryProblem();
        if (problem is null)
        {
            try
            {
                nint handle;
                Cudnn.Check(Cudnn.cudnnCreate(&handle), "cudnnCreate");
                _cudnn = handle;
                Cudnn.Check(Cudnn.cudnnSetStream(_cudnn, Stream), "cudnnSetStream");
                ProbeConvolutions();
            }
            catch (Exception e) when (e is CudaException or CudaOutOfMemoryException or EntryPointNotFoundException or DllNotFoundException)
            {
                problem = $"cuDNN start-up convolution failed: {e.Message}";
            }
        }
        if (problem is null) return;
        CudnnProblem = problem;
        DisposeConvolutionPlans();
        if (_cudnn != 0) { Cudnn.cudnnDestroy(_cudnn); _cudnn = 0; }
    }

    /// <summary>Why the installed cuDNN cannot be used before calling it (absent, symbols missing, a known-bad setup), or null.</summary>
    private static string? CudnnLibraryProblem()
    {
        if (!CudaLibraries.TryLoad(CudaLibrary.Cudnn, out _)) return $"cuDNN: {CudaLibraries.NotFoundMessage(CudaLibrary.Cudnn)}";
        var missing = Cudnn.CoreEntryPoints.Concat(Cudnn.ConvolutionEntryPoints).FirstOrDefault(s => !CudaLibraries.HasExport(CudaLibrary.Cudnn, s));
        if (missing is not null) return $"cuDNN ({CudaLibraries.LoadedName(CudaLibrary.Cudnn)}) has no {missing}";
        return OperatingSystem.IsLinux() ? CudnnNvrtcProblem((long)Cudnn.cudnnGetVersion(), name => NativeLibrary.TryLoad(name, out _)) : null;
    }

    /// <summary>cuDNN 8.7 to 8.9 dlopen the unversioned libnvrtc.so for their runtime-compiled engines and can abort() the
    /// process at the first convolution when it is missing, as on runtime-only installs (which ship libnvrtc.so.12 only).</summary>
    internal static string? CudnnNvrtcProblem(long version, Func<string, bool> canLoad) =>
        version is >= 8700 and < 9000 && !canLoad("libnvrtc.so")
            ? $"cuDNN {version / 1000}.{version / 100 % 10} needs the unversioned libnvrtc.so, which is missing (it can abort at the first convolution); " +
              "install the CUDA toolkit's NVRTC development package (it provides libnvrtc.so) or cuDNN 9"
            : null;

    /// <summary>Runs a 1x2x5x5 input through a 3x2x3x3 filter (padding 1) forward, backward-data and backward-filter through the
    /// same path as training, and checks the forward result against direct loops. Small integers keep every product and sum
    /// exact even under TF32, so a wrong answer is a broken library, not rounding.</summary>
    private void ProbeConvolutions()
    {
        var g = new Conv2dGeometry(1, 2, 5, 5, 3, 3, 3, 1, 1, 1, 1);
        float[] x = new float[g.InputShape.Numel], w = new float[g.WeightShape.Numel], dy = new float[g.OutputShape.Numel];
        for (int i = 0; i < x.Length; i++) x[i] = i * 7 % 5 - 2;
        for (int i = 0; i < w.Length; i++) w[i] = i * 3 % 5 - 2;
        for (int i = 0; i < dy.Length; i++) dy[i] = i % 3 - 1;
        using var tx = Tensor.FromArray<float>(x, g.InputShape, this);
        using var tw = Tensor.FromArray<float>(w, g.WeightShape, this);
        using var tdy = Tensor.FromArray<float>(dy, g.OutputShape, this);
        using var ty = Tensor.Empty(g.OutputShape, DType.Float32, this);
        using var tdx = Tensor.Empty(g.InputShape, DType.Float32, this);
        using var tdw = Tensor.Empty(g.WeightShape, DType.Float32, this);
        Conv2dForward(g, tx, tw, ty);
        Conv2dBackwardData(g, tdy, tw, tdx);
        Conv2dBackwardFilter(g, tx, tdy, tdw);
        Synchronize();
        float[] y = ty.ToArray<float>();
        for (int k = 0; k < g.OutChannels; k++)
            for (int oh = 0; oh < g.OutHeight; oh++)
                for (int ow = 0; ow < g.OutWidth; ow++)
                {
                    double expected = 0;
                    for (int c = 0; c < g.InChannels; c++)
                        for (int r = 0; r < g.KernelHeight; r++)
                            for (int s = 0; s < g.KernelWidth; s++)
                            {
                                int ih = oh - g.PadHeight + r, iw = ow - g.PadWidth + s;
                                if (ih >= 0 && ih < g.InHeight && iw >= 0 && iw < g.InWidth)
                                    expected += x[(c * g.InHeight + ih) * g.InWidth + iw] * w[((k * g.InChannels + c) * g.KernelHeight + r) * g.KernelWidth + s];
                            }
                    float got = y[(k * g.OutHeight + oh) * g.OutWidth + ow];
                    if (Math.Abs(got - expected) > 1e-3)
                        throw new CudaException($"cudnnConvolutionForward gave {got} where {expected} was due (output [0,{k},{oh},{ow}] of the start-up check)");
                }
        // The probe's shape stays out of the per-shape cache: training never meets it.
        DisposeConvolutionPlans();
    }
}
