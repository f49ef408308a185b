using System.Runtime.InteropServices;
using System.Text;
using Vicreg.Engine.Backends.Cuda.Native;

namespace Vicreg.Tests.Engine.Backends.Cuda;

/// <summary>
/// Failures the CPU emulation of tests/Engine/Backends/Cuda/Emulator injects into its fake libcuda, libcublas and libcudnn (their
/// emu_*inject exports), so that every fallback of the CUDA backend has a test. Each injection is undone when disposed.
/// Elsewhere (no driver, or a real GPU) the tests that use them report why they were skipped.
/// </summary>
internal static unsafe class EmulatorFaults
{
    /// <summary>True when the CUDA driver loaded is the emulation's fake.</summary>
    public static bool Active => Export(CudaLibrary.Driver, "emu_inject") != 0;

    public static void Require()
    {
        CudaTestDevice.Require();
        Skip.IfNot(Active,
            "skipped: fault injection needs the CPU emulation (tests/Engine/Backends/Cuda/Emulator/run-emulated.sh), not a real driver");
    }

    /// <summary>memory_limit (bytes; 0 restores 1 GiB), oom_at_least (bytes; 0 off), architecture (e.g. 120; 0 restores 80),
    /// fail_next_sync (a CUresult the next cuStreamSynchronize returns).</summary>
    public static IDisposable Driver(string fault, long value) => Inject(CudaLibrary.Driver, "emu_inject", fault, value, 0);

    /// <summary>create_fails, sublibrary_missing, wrong_result (1 on), refused_algorithm (an id; -1 off),
    /// allocation_failures (count), version (cudnnGetVersion; 0 restores 9.1.0).</summary>
    public static IDisposable Cudnn(string fault, long value) =>
        Inject(CudaLibrary.Cudnn, "emu_cudnn_inject", fault, value, fault == "refused_algorithm" ? -1 : 0);

    /// <summary>allocation_failures (count).</summary>
    public static IDisposable Cublas(string fault, long value) => Inject(CudaLibrary.Cublas, "emu_cublas_inject", fault, value, 0);

    /// <summary>The fake libnccl's faults: async_error (the ncclResult_t ncclCommGetAsyncError reports; 0 = none), and
    /// aborts_seen, which returns how many communicators ncclCommAbort ended since it was last asked.</summary>
    public static long Nccl(string fault, long value)
    {
        nint f = Export(CudaLibrary.Nccl, "emu_nccl_inject");
        if (f == 0) throw new InvalidOperationException($"{CudaLibraries.LoadedName(CudaLibrary.Nccl)} has no emu_nccl_inject: not the emulator's fake");
        byte[] name = Encoding.UTF8.GetBytes(fault + "\0");
        fixed (byte* p = name) return ((delegate* unmanaged<byte*, long, long>)f)(p, value);
    }

    private static nint Export(CudaLibrary library, string name) =>
        CudaLibraries.TryLoad(library, out nint handle) && NativeLibrary.TryGetExport(handle, name, out nint f) ? f : 0;

    private static IDisposable Inject(CudaLibrary library, string export, string fault, long value, long off)
    {
        nint f = Export(library, export);
        if (f == 0) throw new InvalidOperationException($"{CudaLibraries.LoadedName(library)} has no {export}: not the emulator's fake");
        Call(f, fault, value);
        return new Undo(() => Call(f, fault, off));
    }

    private static void Call(nint f, string fault, long value)
    {
        byte[] name = Encoding.UTF8.GetBytes(fault + "\0");
        fixed (byte* p = name) ((delegate* unmanaged<byte*, long, void>)f)(p, value);
    }

    private sealed class Undo(Action undo) : IDisposable
    {
        public void Dispose() => undo();
    }
}
