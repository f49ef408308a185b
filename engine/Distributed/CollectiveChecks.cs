namespace Vicreg.Engine.Distributed;

/// <summary>Argument checks shared by the communicators, so a wrong call fails the same way on each.</summary>
public static class CollectiveChecks
{
    /// <summary>Throws unless <paramref name="gathered"/> holds <paramref name="size"/> copies of <paramref name="local"/>'s shape along the first axis, of its type.</summary>
    public static void Gather(Tensor local, Tensor gathered, int size)
    {
        ShapeMismatchException.SameDType("all_gather", local, gathered);
        if (gathered.Numel != local.Numel * size)
            throw new ShapeMismatchException($"all_gather: {size} ranks of {local.Shape} need {local.Numel * size} elements, the output {gathered.Shape} has {gathered.Numel}");
    }

    /// <summary>Throws unless <paramref name="root"/> is a rank of a job of <paramref name="size"/>.</summary>
    public static void Root(int root, int size)
    {
        if (root < 0 || root >= size) throw new ArgumentOutOfRangeException(nameof(root), $"root {root} is not a rank of {size}");
    }
}
