using Vicreg.Engine;

namespace Vicreg.Commands;

/// <summary>
/// One warning line on stderr when a command's input tensors hold NaN or infinity. The command still runs
/// (what it writes is what those numbers give, which a user checking another implementation may want), but
/// nobody reads non-finite results without having been told where they came from.
/// </summary>
public static class NonFiniteInput
{
    public static void Warn(string command, params (string Name, Tensor Values)[] inputs)
    {
        var found = inputs.Select(i => (i.Name, Count: Count(i.Values), i.Values.Numel)).Where(i => i.Count > 0).ToList();
        if (found.Count == 0) return;
        Console.Error.WriteLine($"vicreg: warning: {command}: non-finite input values (NaN or infinity): " +
            string.Join(", ", found.Select(f => $"{f.Name} has {f.Count} of {f.Numel}")) + "; the results will not be finite");
    }

    /// <summary>How many elements are NaN or infinite (floating-point tensors; an integer one has none).</summary>
    public static long Count(Tensor t) => t.DType switch
    {
        DType.Float32 => CountIn<float>(t.Backend.IsHostMemory ? t.AsSpan<float>() : t.ToArray<float>()),
        DType.Float64 => CountIn<double>(t.Backend.IsHostMemory ? t.AsSpan<double>() : t.ToArray<double>()),
        _ => 0,
    };

    private static long CountIn<T>(ReadOnlySpan<T> values) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        long count = 0;
        foreach (var v in values) if (!T.IsFinite(v)) count++;
        return count;
    }
}
