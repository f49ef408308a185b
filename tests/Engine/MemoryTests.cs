using Vicreg.Engine;
using Vicreg.Engine.Backends.Cpu;
using Vicreg.Engine.Nn;
using Vicreg.Engine.Optim;

namespace Vicreg.Tests.Engine;

public class MemoryTests
{
    [Fact]
    public void ScopeReturnsIntermediatesAndViewsShareStorage()
    {
        var before = CpuBackend.Instance.MemoryStatistics.BytesInUse;
        Tensor kept;
        using (var scope = TensorScope.Begin())
        {
            var a = Tensor.Full(new Shape(100), 2);
            var view = a.View(new Shape(10, 10));
            var b = Ops.Scale(view, 3);
            kept = scope.Keep(Ops.SumAll(b));
            Assert.Equal(100, a.Numel);
        }
        Assert.Equal(600.0, kept.Item(), 3);
        kept.Dispose();
        Assert.Equal(before, CpuBackend.Instance.MemoryStatistics.BytesInUse);
    }

    [Fact]
    public void SteadyTrainingStepTakesNothingNewFromTheSystem()
    {
        var rng = new Rng(30);
        var model = new Sequential(
            new Conv2d(2, 4, 3, 1, 1, bias: false, ref rng), new BatchNorm(4), new Relu(),
            new MaxPool2d(3, 2, 1), new GlobalAvgPool(), new Linear(4, 3, bias: true, ref rng));
        var optimizer = new Sgd(model.NamedParameters(), momentum: 0.9, weightDecay: 1e-4);
        var x = GradCheck.Random(new Shape(5, 2, 9, 9), ref rng, DType.Float32);
        var labels = Tensor.FromArray<int>([0, 1, 2, 1, 0], new Shape(5));
        double firstLoss = 0, lastLoss = 0;
        long systemAllocationsAfterWarmup = 0;
        for (int step = 0; step < 8; step++)
        {
            using (TensorScope.Begin())
            {
                var loss = Ops.CrossEntropy(model.Forward(x), labels);
                if (step == 0) firstLoss = loss.Item();
                lastLoss = loss.Item();
                optimizer.ZeroGrad();
                loss.Backward();
                optimizer.Step(0.05);
            }
            if (step == 2) systemAllocationsAfterWarmup = CpuBackend.Instance.MemoryStatistics.SystemAllocations;
        }
        Assert.Equal(systemAllocationsAfterWarmup, CpuBackend.Instance.MemoryStatistics.SystemAllocations);
        Assert.True(lastLoss < firstLoss, $"loss did not fall: {firstLoss} -> {lastLoss}");
    }
}
