using Vicreg.Engine;
using Vicreg.Engine.Nn;

namespace Vicreg.Tests.Engine.Nn;

/// <summary>Initialization draws every element in order from the generator, whatever the tensor's size: the values
/// written a chunk at a time are the generator's sequence, across chunk boundaries, in float32 and float64.</summary>
public class InitTests
{
    public static TheoryData<int, DType> Sizes => new()
    {
        { 1, DType.Float32 },
        { 7, DType.Float64 },
        { Init.ChunkElements, DType.Float32 },
        { 2 * Init.ChunkElements + 13, DType.Float32 },
        { Init.ChunkElements + 1, DType.Float64 },
    };

    [Theory]
    [MemberData(nameof(Sizes))]
    public void UniformWritesTheGeneratorsSequenceInOrder(int numel, DType dtype)
    {
        var rng = new Rng(11);
        var expected = new Rng(11);
        using var t = Tensor.Empty(new Shape(3, numel), dtype).NarrowView(1, 1);
        Init.Uniform(t, -0.5, 2.0, ref rng);
        AssertValues(t, numel, dtype, () => expected.Uniform(-0.5, 2.0));
        Assert.Equal(expected.NextUInt64(), rng.NextUInt64()); // the caller's generator advanced by exactly numel draws
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void NormalWritesTheGeneratorsSequenceInOrder(int numel, DType dtype)
    {
        var rng = new Rng(5);
        var expected = new Rng(5);
        using var t = Tensor.Empty(new Shape(numel, 1), dtype);
        Init.Normal(t, 0.25, 3.0, ref rng);
        AssertValues(t, numel, dtype, () => 0.25 + 3.0 * expected.NextNormal());
        Assert.Equal(expected.NextUInt64(), rng.NextUInt64());
    }

    [Fact]
    public void IntegerTensorIsRefusedInOneLine()
    {
        var rng = new Rng(1);
        using var t = Tensor.Empty(new Shape(4), DType.Int32);
        var e = Assert.Throws<NotSupportedException>(() => Init.Uniform(t, 0, 1, ref rng));
        Assert.Contains("int32", e.Message, StringComparison.OrdinalIgnoreCase);
    }

    private static void AssertValues(Tensor t, int numel, DType dtype, Func<double> next)
    {
        if (dtype == DType.Float64)
        {
            var actual = t.ToArray<double>();
            Assert.Equal(numel, actual.Length);
            for (int i = 0; i < numel; i++)
                if (actual[i] != next()) Assert.Fail($"element {i} of {numel}: {actual[i]} is not the generator's draw");
            return;
        }
        var singles = t.ToArray<float>();
        Assert.Equal(numel, singles.Length);
        for (int i = 0; i < numel; i++)
            if (singles[i] != (float)next()) Assert.Fail($"element {i} of {numel}: {singles[i]} is not the generator's draw");
    }
}
