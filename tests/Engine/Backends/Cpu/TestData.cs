using Vicreg.Engine;

namespace Vicreg.Tests.Engine.Backends.Cpu;

/// <summary>Seeded random test data (never zeros) and the error bound the kernels are held to.</summary>
internal static class TestData
{
    public static double[] Uniform(int length, ulong seed, double low = -1, double high = 1)
    {
        var rng = new Rng(seed);
        var values = new double[length];
        for (int i = 0; i < length; i++) values[i] = rng.Uniform(low, high);
        return values;
    }

    public static T[] Convert<T>(double[] values) where T : unmanaged
        => typeof(T) == typeof(float)
            ? (T[])(object)Array.ConvertAll(values, v => (float)v)
            : (T[])(object)values.Clone();

    public static double[] ToDouble<T>(T[] values) where T : unmanaged
        => typeof(T) == typeof(float) ? Array.ConvertAll((float[])(object)values, v => (double)v) : (double[])(object)values.Clone();

    /// <summary>Unit roundoff of the element type.</summary>
    public static double Epsilon<T>() => typeof(T) == typeof(float) ? 5.9604644775390625e-8 : 1.1102230246251565e-16; // 2^-24, 2^-53

    /// <summary>The classical bound on a computed sum of <paramref name="terms"/> products in any order,
    /// relative to the sum of their magnitudes: about terms x unit roundoff (doubled for the rounding of
    /// inputs and scaling). Any indexing mistake shows as an error of order 1 against it.</summary>
    public static double Bound<T>(int terms, double magnitude) => 2.0 * (terms + 4) * Epsilon<T>() * magnitude + 1e-300;
}
