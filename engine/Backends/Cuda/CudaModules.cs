using System.Text;
using Vicreg.Engine.Backends.Cuda.Native;

namespace Vicreg.Engine.Backends.Cuda;

/// <summary>Loads the kernel modules (ahead-of-time fatbin when one matches, else NVRTC CUBIN through the disk cache, or PTX
/// for the driver to JIT when NVRTC cannot target the device) and hands out their function handles.</summary>
internal sealed unsafe class CudaModules(int architecture) : IDisposable
{
    private readonly Dictionary<string, nint> _modules = new(StringComparer.Ordinal);
    private readonly nint[] _functions = new nint[CudaKernelCatalog.Entries.Length];

    /// <summary>Where each loaded module came from, for diagnostics.</summary>
    public Dictionary<string, string> Origins { get; } = new(StringComparer.Ordinal);

    /// <summary>Loads every module and resolves every kernel now, so that a missing NVRTC builtins library, an image the
    /// driver rejects (NVRTC output newer than the driver) or a missing kernel stops the backend from starting, where
    /// --device auto can still fall back to the CPU, rather than failing mid-training.</summary>
    public void LoadAll()
    {
        for (int i = 0; i < CudaKernelCatalog.Entries.Length; i++) Function((CudaKernel)i);
    }

    public nint Function(CudaKernel kernel)
    {
        nint f = _functions[(int)kernel];
        if (f != 0) return f;
        var (module, name) = CudaKernelCatalog.Entries[(int)kernel];
        nint handle = Module(module);
        byte[] utf8 = Encoding.UTF8.GetBytes(name + "\0");
        fixed (byte* n = utf8) CudaDriver.Check(CudaDriver.cuModuleGetFunction(&f, handle, n), $"cuModuleGetFunction({name})");
        _functions[(int)kernel] = f;
        return f;
    }

    private nint Module(string module)
    {
        if (_modules.TryGetValue(module, out nint loaded)) return loaded;
        nint handle = 0;
        byte[] source = KernelSources.Bytes(module);
        foreach (string fatbin in KernelCache.FatbinCandidates(module, source))
        {
            if (handle != 0 || !File.Exists(fatbin)) continue;
            byte[] image = File.ReadAllBytes(fatbin);
            fixed (byte* p = image)
            {
                // A fatbin without SASS or PTX usable on this device fails here; NVRTC then compiles for it.
                if (CudaDriver.cuModuleLoadData(&handle, p) == CudaDriver.Success) Origins[module] = fatbin;
                else handle = 0;
            }
        }
        if (handle == 0)
        {
            byte[] image = KernelCache.CompiledImage(module, architecture, out string origin);
            fixed (byte* p = image) CudaDriver.Check(CudaDriver.cuModuleLoadData(&handle, p), $"cuModuleLoadData({module}, {origin})");
            Origins[module] = origin;
        }
        _modules[module] = handle;
        return handle;
    }

    public void Dispose()
    {
        foreach (var handle in _modules.Values) CudaDriver.cuModuleUnload(handle);
        _modules.Clear();
        Array.Clear(_functions);
    }
}
