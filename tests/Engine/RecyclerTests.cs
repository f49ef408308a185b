using Vicreg.Engine;
using Vicreg.Engine.Autograd;

namespace Vicreg.Tests.Engine;

/// <summary>Tensor headers and tape nodes are reused once their step is over, and a use after that is caught where it
/// cheaply can be: a tensor held past its scope reads as disposed, a scope whose nodes are still on the tape keeps
/// its tensors out of the pool, and the tape refuses a node that was returned early.</summary>
public class RecyclerTests
{
    [Fact]
    public void ScopeRecyclesItsTensorHeadersWithFreshState()
    {
        Tensor first;
        using (TensorScope.Begin())
        {
            first = Tensor.Full(new Shape(3), 2);
            first.RequiresGrad = true;
            first.Name = "old";
        }
        using (TensorScope.Begin())
        {
            var second = Tensor.Full(new Shape(2, 2), 5);
            Assert.Same(first, second);
            Assert.False(second.IsDisposed);
            Assert.False(second.RequiresGrad);
            Assert.Null(second.Name);
            Assert.Equal(new Shape(2, 2), second.Shape);
            Assert.Equal([5f, 5f, 5f, 5f], second.ToArray<float>());
        }
    }

    [Fact]
    public void TensorHeldPastItsScopeReadsAsDisposed()
    {
        Tensor stale;
        using (TensorScope.Begin()) stale = Tensor.Full(new Shape(3), 1);
        Assert.True(stale.IsDisposed);
        Assert.Throws<ObjectDisposedException>(() => stale.ToArray<float>());
    }

    [Fact]
    public void ScopeLeavingNodesOnTheTapeKeepsItsTensorsOutOfThePool()
    {
        var rng = new Rng(4);
        var x = GradCheck.Random(new Shape(5), ref rng, DType.Float32);
        x.RequiresGrad = true;
        Tensor y;
        using (TensorScope.Begin()) y = Ops.Relu(x); // recorded, never run
        try
        {
            using (TensorScope.Begin())
            {
                var next = Tensor.Empty(new Shape(5));
                Assert.NotSame(y, next);
            }
            Assert.NotNull(y.GradFn);
        }
        finally
        {
            Tape.Clear(); // releases the node, which still refers to y
        }
        x.Dispose();
    }

    [Fact]
    public void TapeRefusesANodeReturnedBeforeItRan()
    {
        var rng = new Rng(5);
        var x = GradCheck.Random(new Shape(4), ref rng, DType.Float32);
        x.RequiresGrad = true;
        using (TensorScope.Begin())
        {
            var loss = Ops.SumAll(Ops.Relu(x));
            var node = loss.GradFn!;
            node.Recycle(); // a bug that gave it back early
            var e = Assert.Throws<InvalidOperationException>(loss.Backward);
            Assert.Contains("no longer produces its output", e.Message);
            Assert.Throws<InvalidOperationException>(node.Recycle);
        }
        Assert.Equal(0, Tape.Count);
        x.Dispose();
    }
}
