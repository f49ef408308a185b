using Vicreg.Training;
using Xunit;

namespace Vicreg.Tests.App.Training;

/// <summary>The pretraining schedule built from the options: warm-up in (possibly fractional) epochs, then cosine.</summary>
public sealed class PretrainScheduleTests
{
    [Theory]
    [InlineData(0.3, 10, 3)]    // 3 steps of warm-up
    [InlineData(0.25, 10, 3)]   // 2.5 rounds away from zero
    [InlineData(2.0, 7, 14)]
    [InlineData(0.0, 9, 0)]     // no warm-up: the first step runs at the peak
    public void FractionalWarmupRoundsToWholeSteps(double warmupEpochs, int stepsPerEpoch, int warmupSteps)
    {
        var options = new PretrainOptions { Epochs = 3, WarmupEpochs = warmupEpochs, BatchSize = 256, BaseLr = 0.4 };
        var objective = PretrainObjective.For(options);
        var schedule = objective.Schedule(stepsPerEpoch);
        double peak = objective.PeakLearningRate;
        Assert.Equal(0.4, peak, 12);
        for (int s = 0; s < warmupSteps; s++) Assert.Equal(peak * s / warmupSteps, schedule.At(s), 12);
        Assert.Equal(peak, schedule.At(warmupSteps), 12);
        Assert.True(schedule.At(warmupSteps + 1) < peak);
    }
}
