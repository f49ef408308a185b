using System.Security.Cryptography;

namespace Vicreg.Engine.Backends.Cuda;

/// <summary>The .cu sources embedded in the engine (resources named Vicreg.Kernels.&lt;module&gt;.cu) and the .cuh
/// headers they include (Vicreg.Kernels.&lt;name&gt;.cuh).</summary>
public static class KernelSources
{
    private const string Prefix = "Vicreg.Kernels.";

    /// <summary>Module names (file names without .cu) of every embedded kernel source.</summary>
    public static IReadOnlyList<string> Modules =>
        typeof(KernelSources).Assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith(Prefix, StringComparison.Ordinal) && n.EndsWith(".cu", StringComparison.Ordinal))
            .Select(n => n[Prefix.Length..^3]).Order(StringComparer.Ordinal).ToArray();

    /// <summary>The exact bytes of a module's source.</summary>
    public static byte[] Bytes(string module) => Resource(module + ".cu");

    /// <summary>Every embedded header as (include name, exact bytes), ordered by name: what a module may #include.</summary>
    public static IReadOnlyList<(string Name, byte[] Bytes)> Headers =>
        typeof(KernelSources).Assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith(Prefix, StringComparison.Ordinal) && n.EndsWith(".cuh", StringComparison.Ordinal))
            .Select(n => n[Prefix.Length..]).Order(StringComparer.Ordinal).Select(name => (name, Resource(name))).ToArray();

    private static byte[] Resource(string file)
    {
        using var stream = typeof(KernelSources).Assembly.GetManifestResourceStream(Prefix + file)
            ?? throw new InvalidOperationException($"no embedded kernel source {file}");
        using var memory = new MemoryStream();
        stream.CopyTo(memory);
        return memory.ToArray();
    }

    /// <summary>First 16 hex digits of the SHA-256 of the source bytes: cmake/CudaKernels.cmake names the
    /// ahead-of-time fatbin with the same hash, so a fatbin built from other sources is never loaded.</summary>
    public static string ShortHash(ReadOnlySpan<byte> source) => Convert.ToHexStringLower(SHA256.HashData(source))[..16];
}
