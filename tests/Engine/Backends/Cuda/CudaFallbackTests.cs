using System.Runtime.InteropServices;
using Vicreg.Engine.Backends.Cpu;
using Vicreg.Engine.Backends.Cuda.Native;
using Vicreg.Engine.Backends.Cuda;
using Vicreg.Engine;
using Vicreg.Platform;
using static Vicreg.Tests.Engine.Backends.Cuda.CudaTestDevice;

namespace Vicreg.Tests.Engine.Backends.Cuda;

/// <summary>
/// What the CUDA backend does when something fails on a first run: cuDNN that cannot start or computes wrongly, algorithms
/// refused or without workspace, allocation failures inside cuBLAS and cuDNN, a full device, NVRTC that cannot target the
/// GPU, and a faulting kernel. The failures are injected by the CPU emulation (<see cref="EmulatorFaults"/>); the fake
/// cuDNN's heuristics list, in order: an unsupported algorithm (5), one needing 3 GiB of workspace (1), a
/// non-deterministic one needing 4 KiB (0), and a deterministic one needing none (2).
/// </summary>
[Collection(CudaDeviceCollection.Name)]
public class CudaFallbackTests
{
    private static readonly Conv2dGeometry Shape = new(2, 3, 7, 6, 4, 3, 3, 1, 2, 1, 0);

    private static CudaBackend Start(bool deterministic = false)
    {
        EmulatorFaults.Require();
        return new CudaBackend(0, allowTf32: false, deterministic: deterministic);
    }

    [SkippableFact]
    public void Healthy_cudnn_passes_its_start_up_convolutions_and_takes_the_first_usable_algorithm()
    {
        using var gpu = Start();
        Assert.True(gpu.UsesCudnnConvolution, gpu.CudnnProblem);
        Assert.StartsWith("cuDNN 9.1.0", gpu.ConvolutionPath);
        CudaBackendTests.AssertConvolutionsMatchCpu(gpu, Shape);
        // 5 is unsupported and 1 needs more workspace than the device has: 0 is the first candidate that runs.
        Assert.Equal((0, 0, 0), gpu.ConvolutionAlgorithms(Shape));
    }

    public static TheoryData<string, string> CudnnStartFailures() => new()
    {
        { "create_fails", "cudnnCreate failed: CUDNN_STATUS_NOT_INITIALIZED" },
        { "sublibrary_missing", "CUDNN_STATUS_SUBLIBRARY_LOADING_FAILED" },
        { "wrong_result", "where" },
    };

    [SkippableTheory]
    [MemberData(nameof(CudnnStartFailures))]
    public void Cudnn_that_fails_at_start_up_leaves_im2col_with_one_line_saying_why(string fault, string expected)
    {
        EmulatorFaults.Require();
        CudaBackend gpu;
        var said = new List<string>();
        using (EmulatorFaults.Cudnn(fault, 1)) gpu = (CudaBackend)BackendSelector.Resolve("cuda", said.Add, allowTf32: false);
        using (gpu)
        {
            Assert.False(gpu.UsesCudnnConvolution);
            Assert.Contains(expected, gpu.CudnnProblem);
            Assert.DoesNotContain('\n', gpu.CudnnProblem!);
            Assert.Equal([$"convolutions: im2col + cuBLAS ({gpu.CudnnProblem})"], said);
            CudaBackendTests.AssertConvolutionsMatchCpu(gpu, Shape); // the backend still works, through im2col
        }
    }

    [SkippableFact]
    public void Cudnn_8_9_without_the_unversioned_nvrtc_is_not_used()
    {
        EmulatorFaults.Require();
        CudaBackend gpu;
        using (EmulatorFaults.Cudnn("version", 8904)) gpu = new CudaBackend(0, allowTf32: false);
        using (gpu)
        {
            bool present = NativeLibrary.TryLoad("libnvrtc.so", out _);
            Assert.Equal(present, gpu.UsesCudnnConvolution);
            if (!present) Assert.Contains("libnvrtc.so", gpu.CudnnProblem);
        }
    }

    [Fact]
    public void Only_cudnn_8_7_to_8_9_need_the_unversioned_nvrtc()
    {
        Assert.Contains("cuDNN 8.7 needs the unversioned libnvrtc.so", CudaBackend.CudnnNvrtcProblem(8700, _ => false));
        Assert.Contains("cuDNN 8.9 needs", CudaBackend.CudnnNvrtcProblem(8907, _ => false));
        Assert.Null(CudaBackend.CudnnNvrtcProblem(8907, name => name == "libnvrtc.so"));
        Assert.Null(CudaBackend.CudnnNvrtcProblem(8600, _ => false));
        Assert.Null(CudaBackend.CudnnNvrtcProblem(90100, _ => false));
    }

    [SkippableFact]
    public void An_algorithm_cudnn_refuses_to_run_gives_way_to_the_next()
    {
        using var gpu = Start();
        using (EmulatorFaults.Cudnn("refused_algorithm", 0)) CudaBackendTests.AssertConvolutionsMatchCpu(gpu, Shape);
        Assert.Equal((2, 2, 2), gpu.ConvolutionAlgorithms(Shape));
    }

    [SkippableFact]
    public void An_algorithm_whose_workspace_cannot_be_allocated_gives_way_to_the_next()
    {
        using var gpu = Start();
        gpu.EmptyCache(); // the start-up check's workspace would otherwise serve from the cache
        // Algorithm 0's 4 KiB workspace fails; the test's tensors are all smaller.
        using (EmulatorFaults.Driver("oom_at_least", 4096)) CudaBackendTests.AssertConvolutionsMatchCpu(gpu, Shape);
        Assert.Equal((2, 2, 2), gpu.ConvolutionAlgorithms(Shape));
    }

    [SkippableFact]
    public void Deterministic_mode_takes_only_deterministic_algorithms()
    {
        using var gpu = Start(deterministic: true);
        CudaBackendTests.AssertConvolutionsMatchCpu(gpu, Shape);
        Assert.Equal((2, 2, 2), gpu.ConvolutionAlgorithms(Shape));
    }

    [SkippableFact]
    public void Cudnn_allocation_failure_is_retried_after_emptying_the_cache()
    {
        using var gpu = Start();
        CudaBackendTests.AssertConvolutionsMatchCpu(gpu, Shape); // chooses and keeps the algorithms
        using var x = On(gpu, RandomArray((int)Shape.InputShape.Numel, 5), Shape.InputShape.ToArray());
        using var w = On(gpu, RandomArray((int)Shape.WeightShape.Numel, 6), Shape.WeightShape.ToArray());
        using var y = Tensor.Empty(Shape.OutputShape, DType.Float32, gpu);
        using (Tensor.Empty(new Shape(3000), DType.Float32, gpu)) { } // something in the cache
        Assert.True(gpu.MemoryStatistics.BytesCached > 0);
        using (EmulatorFaults.Cudnn("allocation_failures", 1)) gpu.Conv2dForward(Shape, x, w, y);
        Assert.Equal(0, gpu.MemoryStatistics.BytesCached);
        using var cy = Tensor.Empty(Shape.OutputShape, DType.Float32, CpuBackend.Instance);
        using var cx = On(CpuBackend.Instance, x.ToArray<float>(), Shape.InputShape.ToArray());
        using var cw = On(CpuBackend.Instance, w.ToArray<float>(), Shape.WeightShape.ToArray());
        CpuBackend.Instance.Conv2dForward(Shape, cx, cw, cy);
        AssertClose(cy.ToArray<float>(), y.ToArray<float>(), 1e-4, 1e-4, "conv forward after a retried allocation");
    }

    [SkippableFact]
    public void Cublas_allocation_failure_is_retried_after_emptying_the_cache()
    {
        using var gpu = Start();
        float[] a = RandomArray(7 * 5, 7), b = RandomArray(5 * 3, 8);
        using var ga = On(gpu, a, 7, 5); using var gb = On(gpu, b, 5, 3); using var gc = On(gpu, new float[21], 7, 3);
        using (Tensor.Empty(new Shape(3000), DType.Float32, gpu)) { }
        Assert.True(gpu.MemoryStatistics.BytesCached > 0);
        using (EmulatorFaults.Cublas("allocation_failures", 1)) gpu.Gemm(false, false, 1, ga, gb, 0, gc);
        Assert.Equal(0, gpu.MemoryStatistics.BytesCached);
        using var ca = On(CpuBackend.Instance, a, 7, 5); using var cb = On(CpuBackend.Instance, b, 5, 3);
        using var cc = On(CpuBackend.Instance, new float[21], 7, 3);
        CpuBackend.Instance.Gemm(false, false, 1, ca, cb, 0, cc);
        AssertClose(cc.ToArray<float>(), gc.ToArray<float>(), 1e-5, 1e-5, "gemm after a retried allocation");
    }

    /// <summary>An upload still queued on the copy stream writes into a buffer already returned to the cache; when the device
    /// fills, the cache goes back to the driver only after that copy has run (the emulator fails the free otherwise).</summary>
    [SkippableFact]
    public void Out_of_memory_returns_the_cache_only_after_queued_work()
    {
        using var gpu = Start();
        const int Floats = 16384; // 64 KiB
        float[] batch = RandomArray(Floats, 9);
        var target = Tensor.Empty(new Shape(Floats), DType.Float32, gpu);
        gpu.UploadAsync(MemoryMarshal.AsBytes(batch.AsSpan()), target);
        target.Dispose(); // back to the cache while the copy is still queued
        var (free, total) = gpu.DeviceMemory();
        using (EmulatorFaults.Driver("memory_limit", total - free + (32 << 10)))
        {
            // 80 KiB: not in the cache and more than is free, so the cache must go back to the driver.
            using var big = Tensor.Empty(new Shape(20480), DType.Float32, gpu);
            gpu.Fill(big, 2.5);
            Assert.All(big.ToArray<float>(), v => Assert.Equal(2.5f, v));
        }
    }

    [SkippableFact]
    public void A_device_newer_than_nvrtc_gets_ptx_for_the_driver_to_compile()
    {
        EmulatorFaults.Require();
        int newest = Nvrtc.SupportedArchitectures().Max();
        CudaBackend gpu;
        using (EmulatorFaults.Driver("architecture", newest + 10)) gpu = new CudaBackend(0, allowTf32: false);
        using (gpu)
        {
            Assert.Equal(newest + 10, gpu.DeviceInfo.Architecture);
            Assert.Equal(CudaKernelCatalog.Modules.Length, gpu.KernelOrigins.Count); // every module loaded at start-up
            foreach (var (module, origin) in gpu.KernelOrigins)
                Assert.True(origin.EndsWith(".ptx", StringComparison.Ordinal) || origin.Contains($"compute_{newest}"), $"{module}: {origin}");
            float[] x = RandomArray(301, 10);
            using var gx = On(gpu, x, 301); using var gy = On(gpu, new float[301], 301);
            gpu.Unary(UnaryOp.Scale, gx, gy, -1.5);
            AssertClose(x.Select(v => v * -1.5f).ToArray(), gy.ToArray<float>(), 1e-6, 0, "scale through PTX");
        }
    }

    [SkippableFact]
    public void Every_kernel_module_is_loaded_when_the_backend_starts()
    {
        using var gpu = Start();
        Assert.Equal(CudaKernelCatalog.Modules.Order(), gpu.KernelOrigins.Keys.Order());
    }

    [SkippableFact]
    public void Waits_sleep_instead_of_spinning_a_core()
    {
        Require(); // a device, emulated or real
        using var gpu = new CudaBackend(0, allowTf32: false);
        Assert.Equal(CudaDriver.ContextBlockingSync, gpu.ContextFlags & 7); // CU_CTX_SCHED_MASK
    }

    [SkippableFact]
    public void Synchronising_after_every_launch_names_the_faulting_kernel()
    {
        using var gpu = Start();
        using var x = On(gpu, RandomArray(33, 12), 33); using var y = On(gpu, new float[33], 33);
        gpu.SynchronizeEveryLaunch = true;
        CudaException e;
        using (EmulatorFaults.Driver("fail_next_sync", 719)) e = Assert.Throws<CudaException>(() => gpu.Unary(UnaryOp.Scale, x, y, 2));
        Assert.Contains("kernel unary", e.Message);
        Assert.Contains("VICREG_CUDA_SYNC=1", e.Message);
        Assert.Contains("CUDA_ERROR_LAUNCH_FAILED", e.Message);
    }

    /// <summary>An op number the kernels do not know (an enum member whose case was never written) traps and fails the
    /// launch, instead of silently computing another op as the old numbered switch's default did. Emulation only: on a
    /// GPU a trap poisons the process's context for every later test.</summary>
    [SkippableFact]
    public void An_op_the_kernels_do_not_know_fails_the_launch()
    {
        using var gpu = Start();
        using var a = On(gpu, RandomArray(33, 12), 33); using var b = On(gpu, RandomArray(33, 13), 33); using var y = On(gpu, new float[33], 33);
        gpu.SynchronizeEveryLaunch = true;
        gpu.Unary(UnaryOp.Reciprocal, a, y); // the last op, still known
        var e = Assert.Throws<CudaException>(() => gpu.Unary((UnaryOp)Enum.GetValues<UnaryOp>().Length, a, y));
        Assert.Contains("kernel unary_f32", e.Message);
        Assert.Contains("CUDA_ERROR_LAUNCH_FAILED", e.Message);
        e = Assert.Throws<CudaException>(() => gpu.Binary((BinaryOp)(-1), a, b, y));
        Assert.Contains("kernel binary_f32", e.Message);
    }
}
