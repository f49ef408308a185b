using Vicreg.Engine;
using Vicreg.Engine.Backends.Cpu;
using Vicreg.Engine.Optim;
using Vicreg.Engine.Models;
using Vicreg.Training;

namespace Vicreg.Tests.App.Training;

/// <summary>Fine-tuning's optimization against the official formula (evaluate.py: torch.optim.SGD with two
/// param_groups, momentum 0.9, weight decay on every parameter, CosineAnnealingLR(T_max = epochs) stepped per epoch):
/// buf = 0.9 buf + (g + wd w); w -= lr_group(epoch) buf, with lr_group(e) = lr_group (1 + cos(pi e / T)) / 2.</summary>
public class FineTuneScheduleTests
{
    [Fact]
    public void TheCosineFactorIsCosineAnnealingLRStepPerEpoch()
    {
        const int epochs = 7;
        var schedule = new CosineEpochSchedule(1.0, epochs);
        for (int e = 0; e <= epochs; e++)
            Assert.Equal(0.5 * (1 + Math.Cos(Math.PI * e / epochs)), schedule.At(e), 15);
        Assert.Equal(1.0, schedule.At(0));
        Assert.Equal(0.0, schedule.At(epochs), 15);
    }

    [Fact]
    public void HeadAndBackboneStepAtTheirOwnRatesOnOneScheduleAsTorchParamGroups()
    {
        var backend = CpuBackend.Instance;
        var rng = new Rng(9);
        var backbone = Backbones.Create("resnet18", ResNetStem.Cifar, 0.0625, 1, ref rng, backend: backend);
        var model = new ClassifierModel(backbone, FineTuner.Head(backbone.RepresentationSize, 3, seed: 4, backend));
        var s = new FineTuneSettings(Epochs: 3, BatchSize: 2, LrBackbone: 0.03, LrHead: 0.08, WeightDecay: 0.01, Seed: 0, Workers: 0, Strict: false, MaxSteps: 0, ExpDir: "");
        var optimizer = FineTuner.Optimizer(model, s);
        var schedule = new CosineEpochSchedule(1.0, s.Epochs);
        string[] watched = ["head.weight", "head.bias", "backbone.conv1.weight", "backbone.bn1.bias"];
        var parameters = model.NamedParameters().ToDictionary(p => p.Name, p => p.Tensor);
        var expected = watched.ToDictionary(n => n, n => parameters[n].ToArray<float>().Select(v => (double)v).ToArray());
        var buffers = watched.ToDictionary(n => n, n => new double[expected[n].Length]);
        int step = 0;
        for (int epoch = 0; epoch < s.Epochs; epoch++)
        {
            for (int b = 0; b < 2; b++, step++)
            {
                foreach (var (name, p) in parameters)
                {
                    // A made-up gradient that differs per parameter, element and step, never zero.
                    var g = Enumerable.Range(0, (int)p.Numel).Select(i => (float)(0.1 * Math.Sin(0.7 * i + 1.3 * step + name.Length) + 0.05)).ToArray();
                    p.Grad = Tensor.FromArray<float>(g, p.Shape, backend);
                    if (!expected.TryGetValue(name, out var w)) continue;
                    double lr = (ClassifierModel.IsHead(name) ? s.LrHead : s.LrBackbone) * 0.5 * (1 + Math.Cos(Math.PI * epoch / s.Epochs));
                    var buf = buffers[name];
                    for (int i = 0; i < w.Length; i++)
                    {
                        buf[i] = 0.9 * buf[i] + (g[i] + s.WeightDecay * w[i]);
                        w[i] -= lr * buf[i];
                    }
                }
                optimizer.Step(schedule.At(epoch));
            }
        }
        foreach (var name in watched)
        {
            var actual = parameters[name].ToArray<float>();
            for (int i = 0; i < actual.Length; i++) Assert.Equal(expected[name][i], actual[i], 5);
        }
        Assert.Equal(0.08 * 0.25, optimizer.LearningRateOf("head.weight", schedule.At(2)), 12);
        Assert.Equal(0.03 * 0.25, optimizer.LearningRateOf("backbone.conv1.weight", schedule.At(2)), 12);
    }
}
