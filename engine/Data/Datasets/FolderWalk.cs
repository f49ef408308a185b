namespace Vicreg.Engine.Data.Datasets;

/// <summary>
/// The files of a folder and of its subfolders, recursively and following links (a link back to a folder being
/// walked is not followed round for ever), ordered as torchvision's ImageFolder orders them: by folder, then by
/// file name, names compared by their bytes (Python's code-point order).
/// </summary>
internal static class FolderWalk
{
    /// <summary>The paths of the files under <paramref name="root"/> that <paramref name="keep"/> (given the
    /// file's folder and name) accepts.</summary>
    public static List<byte[]> Files(byte[] root, Func<byte[], byte[], bool> keep)
    {
        var folders = new List<(byte[] Folder, List<byte[]> Names)>();
        Walk(root, folders, [], keep);
        folders.Sort((a, b) => CompareBytes(a.Folder, b.Folder));
        var paths = new List<byte[]>();
        foreach (var (folder, names) in folders)
        {
            names.Sort(CompareBytes);
            foreach (var name in names) paths.Add(PathText.Join(folder, name));
        }
        return paths;
    }

    public static int CompareBytes(byte[] a, byte[] b) => a.AsSpan().SequenceCompareTo(b);

    /// <summary><paramref name="ancestors"/> are the folders being walked.</summary>
    private static void Walk(byte[] folder, List<(byte[], List<byte[]>)> found, HashSet<(uint, uint, ulong)> ancestors, Func<byte[], byte[], bool> keep)
    {
        if (!NativeFileSystem.TryIdentifyDirectory(folder, out var identity) || !ancestors.Add(identity)) return;
        var names = new List<byte[]>();
        foreach (var entry in NativeFileSystem.List(folder))
        {
            if (entry.IsDirectory) Walk(PathText.Join(folder, entry.Name), found, ancestors, keep);
            else if (keep(folder, entry.Name)) names.Add(entry.Name);
        }
        if (names.Count > 0) found.Add((folder, names));
        ancestors.Remove(identity);
    }
}
