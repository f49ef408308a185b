using System.Numerics;
using System.Runtime.CompilerServices;

namespace Vicreg.Engine;

/// <summary>
/// A seeded generator (xoshiro256**, seeded through SplitMix64). A value type whose whole state is
/// four words, so it can be saved in a checkpoint and restored bit for bit, and forked into
/// independent streams keyed by (seed, epoch, sample) so that data augmentation does not depend on
/// which worker thread handles a sample.
/// </summary>
public struct Rng
{
    private ulong _s0, _s1, _s2, _s3;

    /// <summary>A stream seeded by <paramref name="seed"/> (expanded by SplitMix64).</summary>
    public Rng(ulong seed)
    {
        ulong x = seed;
        _s0 = SplitMix(ref x);
        _s1 = SplitMix(ref x);
        _s2 = SplitMix(ref x);
        _s3 = SplitMix(ref x);
    }

    /// <summary>An independent stream for a key path such as (seed, epoch, index).</summary>
    public static Rng ForKey(ulong seed, ulong a, ulong b = 0, ulong c = 0)
    {
        ulong x = seed;
        ulong h = SplitMix(ref x) ^ a;
        h = Mix(h) ^ b;
        h = Mix(h) ^ c;
        return new Rng(Mix(h));
    }

    private static ulong SplitMix(ref ulong x)
    {
        ulong z = x += 0x9E3779B97F4A7C15UL;
        return Mix(z);
    }

    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>64 random bits.</summary>
    public ulong NextUInt64()
    {
        ulong result = BitOperations.RotateLeft(_s1 * 5, 7) * 9;
        ulong t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = BitOperations.RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform in [<paramref name="low"/>, <paramref name="high"/>).</summary>
    public double Uniform(double low, double high) => low + (high - low) * NextDouble();

    /// <summary>Uniform integer in [0, n).</summary>
    public int NextInt(int n)
    {
        if (n <= 0) throw new ArgumentOutOfRangeException(nameof(n));
        return (int)((NextUInt64() >> 33) * (ulong)n >> 31);
    }

    /// <summary>True with probability <paramref name="p"/>.</summary>
    public bool Bernoulli(double p) => NextDouble() < p;

    /// <summary>Standard normal by Box-Muller (one value per call; the pair's partner is dropped for simplicity of state).</summary>
    public double NextNormal()
    {
        double u1 = 1.0 - NextDouble(); // (0, 1]
        double u2 = NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }

    /// <summary>Fisher-Yates shuffle of a permutation.</summary>
    public void Shuffle(Span<int> items)
    {
        for (int i = items.Length - 1; i > 0; i--)
        {
            int j = NextInt(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }

    /// <summary>The state, for checkpoints.</summary>
    public readonly ulong[] GetState() => [_s0, _s1, _s2, _s3];

    /// <summary>The stream <see cref="GetState"/> saved.</summary>
    public static Rng FromState(ReadOnlySpan<ulong> s)
    {
        if (s.Length != 4) throw new ArgumentException("an Rng state is four 64-bit words");
        return new Rng { _s0 = s[0], _s1 = s[1], _s2 = s[2], _s3 = s[3] };
    }
}
