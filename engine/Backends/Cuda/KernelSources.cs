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

    /// <summary>The name hash of a module's ahead-of-time fatbin: the first 16 hex digits of the SHA-256 of the
    /// module's source followed by every header in name order (cmake/KernelHash.cmake computes the same), so a fatbin built
    /// against another version of a header is never loaded.</summary>
    public static string FatbinHash(ReadOnlySpan<byte> source)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(source);
        foreach (var (_, bytes) in Headers) hash.AppendData(bytes);
        return Convert.ToHexStringLower(hash.GetHashAndReset())[..16];
    }
}
