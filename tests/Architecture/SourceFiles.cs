using Vicreg.Tests.Engine.IO;

namespace Vicreg.Tests.Architecture;

/// <summary>The repository's own source files and projects (build output folders left out), as paths relative to
/// the repository root with '/' separators.</summary>
internal static class SourceFiles
{
    public static string Root => PythonReference.RepositoryRoot;

    public static IEnumerable<string> Under(string folder, string pattern) =>
        Directory.EnumerateFiles(Path.Combine(Root, folder), pattern, SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(Root, f).Replace('\\', '/'))
            .Where(f => !f.Split('/').Any(part => part is "bin" or "obj"))
            .Order(StringComparer.Ordinal);
}
