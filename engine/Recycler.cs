namespace Vicreg.Engine;

/// <summary>
/// Objects of one type kept for reuse on the thread that gave them back. The tensor headers, storages and tape
/// nodes a training step makes return here when the step's scope ends (or the tape has run), and the next step
/// takes them again, so a steady step puts nothing new on the GC heap. Per thread, as tapes and tensor scopes are.
/// </summary>
internal static class Recycler<T> where T : class
{
    [ThreadStatic] private static Stack<T>? t_free;

    /// <summary>An object given back earlier on this thread, or null when there is none.</summary>
    public static T? Take() => t_free is { Count: > 0 } free ? free.Pop() : null;

    /// <summary>Keeps <paramref name="item"/> for a later <see cref="Take"/>; the caller holds no reference to it any more.</summary>
    public static void Return(T item) => (t_free ??= new Stack<T>()).Push(item);
}
