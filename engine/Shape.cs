using System.Runtime.CompilerServices;

namespace Vicreg.Engine;

/// <summary>A tensor's dimensions (at most <see cref="MaxRank"/>), stored inline so that making
/// a shape never touches the GC heap.</summary>
public readonly struct Shape : IEquatable<Shape>
{
    /// <summary>The most dimensions a shape holds.</summary>
    public const int MaxRank = 6;

    [InlineArray(MaxRank)]
    private struct Dims
    {
        private int _first;
    }

    private readonly Dims _dims;

    /// <summary>The number of dimensions (0 for a scalar).</summary>
    public int Rank { get; }

    /// <summary>A shape of these dimensions, outermost first; an <see cref="ArgumentException"/> for a negative one or more than <see cref="MaxRank"/>.</summary>
    public Shape(params ReadOnlySpan<int> dims)
    {
        if (dims.Length > MaxRank)
            throw new ArgumentException($"a shape has at most {MaxRank} dimensions, got {dims.Length}");
        Rank = dims.Length;
        for (int i = 0; i < dims.Length; i++)
        {
            if (dims[i] < 0) throw new ArgumentException($"negative dimension {dims[i]} in a shape");
            _dims[i] = dims[i];
        }
    }

    /// <summary>The size of dimension <paramref name="axis"/>.</summary>
    public int this[int axis]
    {
        get
        {
            if (axis < 0) axis += Rank;
            if ((uint)axis >= (uint)Rank) throw new ArgumentOutOfRangeException(nameof(axis), $"axis {axis} of a rank-{Rank} shape");
            return _dims[axis];
        }
    }

    /// <summary>Number of elements (1 for a scalar of rank 0).</summary>
    public long Numel
    {
        get
        {
            long n = 1;
            for (int i = 0; i < Rank; i++) n = checked(n * _dims[i]); // a wrapped count would under-allocate
            return n;
        }
    }

    /// <summary>Product of the dimensions in [start, end).</summary>
    public int Product(int start, int end)
    {
        long n = 1;
        for (int i = start; i < end; i++) n *= _dims[i];
        return checked((int)n);
    }

    /// <summary>This shape with dimension <paramref name="axis"/> set to <paramref name="size"/>.</summary>
    public Shape With(int axis, int size)
    {
        Span<int> d = stackalloc int[Rank];
        for (int i = 0; i < Rank; i++) d[i] = _dims[i];
        d[axis < 0 ? axis + Rank : axis] = size;
        return new Shape(d);
    }

    /// <summary>True when both have the same dimensions.</summary>
    public bool Equals(Shape other)
    {
        if (Rank != other.Rank) return false;
        for (int i = 0; i < Rank; i++) if (_dims[i] != other._dims[i]) return false;
        return true;
    }

    /// <summary>True for a <see cref="Shape"/> of the same dimensions.</summary>
    public override bool Equals(object? obj) => obj is Shape s && Equals(s);
    /// <summary>A hash of the dimensions.</summary>
    public override int GetHashCode()
    {
        var h = new HashCode();
        for (int i = 0; i < Rank; i++) h.Add(_dims[i]);
        return h.ToHashCode();
    }

    /// <summary>True when both have the same dimensions.</summary>
    public static bool operator ==(Shape a, Shape b) => a.Equals(b);
    /// <summary>True when the dimensions differ.</summary>
    public static bool operator !=(Shape a, Shape b) => !a.Equals(b);

    /// <summary>The dimensions as a new array.</summary>
    public int[] ToArray()
    {
        var a = new int[Rank];
        for (int i = 0; i < Rank; i++) a[i] = _dims[i];
        return a;
    }

    /// <summary>"[2, 3, 224, 224]".</summary>
    public override string ToString()
    {
        var parts = new string[Rank];
        for (int i = 0; i < Rank; i++) parts[i] = _dims[i].ToString(System.Globalization.CultureInfo.InvariantCulture);
        return "[" + string.Join(", ", parts) + "]";
    }
}
