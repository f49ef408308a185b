namespace Vicreg.Engine.IO;

/// <summary>Finds NaN and infinity in floating tensors (integer tensors are always finite). Used where weights
/// cross the disk, once per load or save, never per step.</summary>
public static unsafe class FiniteCheck
{
    /// <summary>Throws <see cref="NonFiniteValuesException"/> naming the first tensor that holds a non-finite value;
    /// <paramref name="describe"/> turns (name, count) into the message.</summary>
    public static void Require(IEnumerable<(string Name, Tensor Tensor)> tensors, Func<string, long, string> describe)
    {
        foreach (var (name, tensor) in tensors)
        {
            long count = CountNonFinite(tensor);
            if (count > 0) throw new NonFiniteValuesException(describe(name, count));
        }
    }

    /// <summary>The number of NaN and infinite elements of <paramref name="t"/> (0 for integers).</summary>
    public static long CountNonFinite(Tensor t)
    {
        if (t.DType == DType.Int32 || t.Numel == 0) return 0;
        if (!t.Backend.IsHostMemory)
            return t.DType == DType.Float32 ? Count(t.ToArray<float>()) : Count(t.ToArray<double>());
        return t.DType == DType.Float32
            ? Count((float*)t.Data, t.Numel)
            : Count((double*)t.Data, t.Numel);
    }

    private static long Count(float[] values) { fixed (float* p = values) return Count(p, values.Length); }
    private static long Count(double[] values) { fixed (double* p = values) return Count(p, values.Length); }

    private static long Count<T>(T* values, long length) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        long count = 0;
        for (long i = 0; i < length; i++)
            if (!T.IsFinite(values[i])) count++;
        return count;
    }
}
