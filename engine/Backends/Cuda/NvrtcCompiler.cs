using System.Runtime.InteropServices;
using System.Text;
using Vicreg.Engine.Backends.Cuda.Native;

namespace Vicreg.Engine.Backends.Cuda;

/// <summary>
/// Compiles kernel sources with NVRTC. CUBIN for the device's exact sm_XY is the normal product (PTX from a
/// newer NVRTC than the driver would fail to load); PTX for compute_XY is used only when this NVRTC cannot
/// emit SASS for the device (a device newer than the compiler), leaving the driver to JIT it.
/// Needs no GPU, so the tests run it on CPU-only machines.
/// </summary>
public static unsafe class NvrtcCompiler
{
    /// <summary>Options shared by every compilation, besides the architecture (part of the cache key).</summary>
    public static readonly string[] CommonOptions = ["--std=c++14", "--fmad=true"];

    public static string[] Options(int architecture, bool ptx) =>
        [$"--gpu-architecture={(ptx ? "compute" : "sm")}_{architecture}", .. CommonOptions];

    /// <summary>CUBIN (or PTX text as bytes when <paramref name="ptx"/>) for <paramref name="architecture"/>
    /// (e.g. 80 for sm_80). The embedded headers (<see cref="KernelSources.Headers"/>) are what the source may
    /// #include. A compile error throws with the full NVRTC log.</summary>
    public static byte[] Compile(string name, ReadOnlySpan<byte> source, int architecture, bool ptx = false)
    {
        CudaLibraries.Require(CudaLibrary.Nvrtc);
        string[] options = Options(architecture, ptx);
        var headers = KernelSources.Headers;
        byte[] src = [.. source, 0];
        byte[] fileName = Encoding.UTF8.GetBytes(name + ".cu\0");
        // NUL-terminated header texts, include names and options, pinned until the program is destroyed.
        var pinned = new List<GCHandle>(2 * headers.Count + options.Length);
        byte** headerTexts = stackalloc byte*[headers.Count];
        byte** includeNames = stackalloc byte*[headers.Count];
        byte** optionPointers = stackalloc byte*[options.Length];
        nint program = 0;
        try
        {
            for (int i = 0; i < headers.Count; i++)
            {
                headerTexts[i] = Pin([.. headers[i].Bytes, 0], pinned);
                includeNames[i] = Pin(Encoding.UTF8.GetBytes(headers[i].Name + "\0"), pinned);
            }
            for (int i = 0; i < options.Length; i++) optionPointers[i] = Pin(Encoding.UTF8.GetBytes(options[i] + "\0"), pinned);
            fixed (byte* s = src)
            fixed (byte* f = fileName)
                Nvrtc.Check(Nvrtc.nvrtcCreateProgram(&program, s, f, headers.Count, headerTexts, includeNames), "nvrtcCreateProgram");
            int status = Nvrtc.nvrtcCompileProgram(program, options.Length, optionPointers);
            if (status != Nvrtc.Success)
                throw new CudaException($"nvrtcCompileProgram of {name}.cu for {options[0]} failed: {Nvrtc.ErrorName(status)}\n{Log(program)}");
            nuint size;
            if (ptx)
            {
                Nvrtc.Check(Nvrtc.nvrtcGetPTXSize(program, &size), "nvrtcGetPTXSize");
                var image = new byte[size];
                fixed (byte* p = image) Nvrtc.Check(Nvrtc.nvrtcGetPTX(program, p), "nvrtcGetPTX");
                return image;
            }
            Nvrtc.Check(Nvrtc.nvrtcGetCUBINSize(program, &size), "nvrtcGetCUBINSize");
            var cubin = new byte[size];
            fixed (byte* p = cubin) Nvrtc.Check(Nvrtc.nvrtcGetCUBIN(program, p), "nvrtcGetCUBIN");
            return cubin;
        }
        finally
        {
            if (program != 0) Nvrtc.nvrtcDestroyProgram(&program);
            foreach (var handle in pinned) handle.Free();
        }
    }

    private static byte* Pin(byte[] bytes, List<GCHandle> pinned)
    {
        var handle = GCHandle.Alloc(bytes, GCHandleType.Pinned);
        pinned.Add(handle);
        return (byte*)handle.AddrOfPinnedObject();
    }

    private static string Log(nint program)
    {
        nuint size;
        if (Nvrtc.nvrtcGetProgramLogSize(program, &size) != Nvrtc.Success || size <= 1) return "(no log)";
        var log = new byte[size];
        fixed (byte* p = log) Nvrtc.nvrtcGetProgramLog(program, p);
        return Encoding.UTF8.GetString(log, 0, (int)size - 1);
    }
}
