using System.Security.Cryptography;
using System.Text;
using Vicreg.Engine.Backends.Cuda.Native;

namespace Vicreg.Engine.Backends.Cuda;

/// <summary>
/// Where a module's binary comes from, in order: an ahead-of-time fatbin next to the program
/// (&lt;module&gt;.&lt;source hash&gt;.fatbin in $VICREG_KERNEL_DIR or kernels/ beside the program, built by cmake/CudaKernels.cmake), the on-disk cache of earlier
/// NVRTC compilations, or a fresh NVRTC compilation (then stored in the cache). The cache directory is
/// $VICREG_KERNEL_CACHE, else $XDG_CACHE_HOME/vicreg/kernels, else ~/.cache/vicreg/kernels; entries are keyed
/// by a hash of the source, the headers it may include, the options, the NVRTC version and the architecture, so they never go stale.
/// </summary>
public static class KernelCache
{
    public static string Directory
    {
        get
        {
            string? over = Environment.GetEnvironmentVariable("VICREG_KERNEL_CACHE");
            if (!string.IsNullOrEmpty(over)) return over;
            string? xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
            string root = !string.IsNullOrEmpty(xdg) ? xdg : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
            return Path.Combine(root, "vicreg", "kernels");
        }
    }

    /// <summary>Where an ahead-of-time fatbin for this exact source may be: $VICREG_KERNEL_DIR, then kernels/
    /// beside the program (the file name carries the source hash, so a fatbin of other sources never matches).</summary>
    public static IEnumerable<string> FatbinCandidates(string module, ReadOnlySpan<byte> source)
    {
        string file = $"{module}.{KernelSources.FatbinHash(source)}.fatbin";
        string? over = Environment.GetEnvironmentVariable("VICREG_KERNEL_DIR");
        var paths = new List<string>(2);
        if (!string.IsNullOrEmpty(over)) paths.Add(Path.Combine(over, file));
        paths.Add(Path.Combine(AppContext.BaseDirectory, "kernels", file));
        return paths;
    }

    /// <summary>The cache entry name: the module, the architecture, and a hash of everything the compiled image depends on
    /// (source, every header NVRTC is given, options, NVRTC version, architecture); so an edited header misses too.</summary>
    public static string Key(string module, ReadOnlySpan<byte> source, IReadOnlyList<(string Name, byte[] Bytes)> headers, string[] options,
        (int Major, int Minor) nvrtcVersion, int architecture)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(source);
        foreach (var (name, bytes) in headers)
        {
            hash.AppendData(Encoding.UTF8.GetBytes($"\0{name}\0{bytes.Length}\0"));
            hash.AppendData(bytes);
        }
        hash.AppendData(Encoding.UTF8.GetBytes($"\0{string.Join(' ', options)}\0nvrtc {nvrtcVersion.Major}.{nvrtcVersion.Minor}\0sm_{architecture}"));
        return $"{module}-sm{architecture}-{Convert.ToHexStringLower(hash.GetHashAndReset())[..24]}";
    }

    /// <summary>A CUBIN (or PTX, when NVRTC cannot target the device) for the module, compiling on a cache miss.</summary>
    public static byte[] CompiledImage(string module, int architecture, out string origin)
    {
        byte[] source = KernelSources.Bytes(module);
        var (major, minor) = Nvrtc.Version();
        int[] supported = Nvrtc.SupportedArchitectures();
        bool ptx = !supported.Contains(architecture);
        int target = architecture;
        if (ptx)
        {
            // A device newer than this NVRTC: emit PTX for the newest architecture it knows, for the driver to JIT.
            target = supported.Where(a => a <= architecture).DefaultIfEmpty(supported.Max()).Max();
        }
        string[] options = NvrtcCompiler.Options(target, ptx);
        string key = Key(module, source, KernelSources.Headers, options, (major, minor), architecture) + (ptx ? ".ptx" : ".cubin");
        string path = Path.Combine(Directory, key);
        try
        {
            if (File.Exists(path))
            {
                origin = $"cache {path}";
                byte[] cached = File.ReadAllBytes(path);
                if (cached.Length > 0) return cached;
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }

        byte[] image = NvrtcCompiler.Compile(module, source, target, ptx);
        if (ptx) image = [.. image.AsSpan().TrimEnd((byte)0), 0]; // cuModuleLoadData wants NUL-terminated PTX
        origin = $"NVRTC {major}.{minor} ({options[0]})";
        try
        {
            System.IO.Directory.CreateDirectory(Directory);
            string temporary = path + $".{Environment.ProcessId}.tmp";
            File.WriteAllBytes(temporary, image);
            File.Move(temporary, path, overwrite: true); // atomic: concurrent processes never read a half file
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return image;
    }
}
