using System.Globalization;
using Vicreg.Engine;
using Vicreg.Engine.Backends.Cpu;
using Vicreg.Engine.Distributed;
using Vicreg.Engine.IO;
using Vicreg.Engine.Models;
using Vicreg.Tests.Engine.IO;
using Vicreg.Training;

namespace Vicreg.Tests.App.Training;

/// <summary>
/// `pretrain --loss barlowtwins` against the official main.py in PyTorch (tools/reference/barlow_twins_step.py), in
/// float64 on the same weights and views: two training steps through the program's own pieces (projector, objective,
/// LARS groups, schedule, <see cref="Pretrainer.TrainStep"/>), one in the warm-up and one on the cosine, give the
/// official loss and terms and the official weights, momentum-carrying second step included.
/// </summary>
public class BarlowTwinsStepParityTests
{
    private const int Batch = 10, Channels = 3, Size = 8, Epochs = 20, StepsPerEpoch = 1;
    private static readonly long[] s_steps = [3, 14]; // warm-up ends at step 10

    [SkippableFact]
    [Trait("Reference", "PyTorch")]
    public void TwoStepsMatchTheOfficialMainPy()
    {
        PythonReference.SkipUnlessTorch(needTorchvision: true);
        var o = new PretrainOptions
        {
            Loss = PretrainOptions.BarlowTwins, Mlp = "16-16-12", BatchSize = Batch, Epochs = Epochs, WarmupEpochs = 10,
            Lambd = 0.05, WeightDecay = 1e-3, // larger than the defaults, so that the off-diagonal term and the decay weigh in
        };
        var rng = new Rng(31);
        // No zero-init of the residual gammas: every parameter gets a non-trivial gradient.
        var backbone = Backbones.Create("resnet18", ResNetStems.Parse("cifar"), 0.0625, Channels, ref rng, zeroInitResidual: false, dtype: DType.Float64, backend: CpuBackend.Instance);
        var objective = PretrainObjective.For(o);
        var model = new VicregModel(backbone, Expander.Create(backbone.RepresentationSize, o.Mlp, ref rng, DType.Float64, CpuBackend.Instance, objective.ExpanderHiddenBias));
        var optimizer = objective.CreateOptimizer(model);
        var schedule = objective.Schedule(StepsPerEpoch);
        using var dir = new TempFolder();
        var before = model.StateDict().Where(p => p.Tensor.DType == DType.Float64).ToDictionary(p => p.Name, p => p.Tensor.ToArray<double>());

        var views = s_steps.ToDictionary(k => k, k => (A: Views(100 + (ulong)k), B: Views(200 + (ulong)k)));
        using (TensorScope.Begin())
        {
            var input = model.StateDict("model.").ToList();
            foreach (var (k, (a, b)) in views)
            {
                input.Add(($"view_a.{k}", a));
                input.Add(($"view_b.{k}", b));
            }
            SafetensorsWriter.Write(dir.File("in.safetensors"), input, new Dictionary<string, string>
            {
                ["arch"] = "resnet18", ["stem"] = "cifar", ["width"] = "0.0625", ["channels"] = Text(Channels), ["mlp"] = o.Mlp,
                ["batch_size"] = Text(Batch), ["epochs"] = Text(Epochs), ["warmup_epochs"] = Text(o.WarmupEpochs), ["steps_per_epoch"] = Text(StepsPerEpoch),
                ["steps"] = string.Join(",", s_steps), ["lambd"] = Text(o.Lambd), ["learning_rate_weights"] = Text(o.LearningRateWeights),
                ["learning_rate_biases"] = Text(o.LearningRateBiases), ["weight_decay"] = Text(o.WeightDecay), ["eta"] = Text(o.LarsEta),
            });
        }
        PythonReference.RunScript("barlow_twins_step.py", dir.File("in.safetensors"), dir.File("torch.safetensors"));
        using var torch = new SafetensorsReader(dir.File("torch.safetensors"));

        using var parallel = new DataParallel(SingleProcessCommunicator.Instance);
        model.Train();
        foreach (var (k, (a, b)) in views)
        {
            var figures = Pretrainer.TrainStep(model, objective, optimizer, parallel, a, b, schedule.At(k), measureRank: false);
            foreach (var (name, actual) in (ReadOnlySpan<(string, double)>)[("loss", figures.Reading.Loss), ("on_diagonal", figures.Reading.Term0), ("off_diagonal", figures.Reading.Term1)])
            {
                double expected = Scalar(torch, $"{name}.{k}");
                Assert.True(Math.Abs(expected - actual) <= 1e-11 * Math.Abs(expected), $"step {k} {name}: PyTorch {expected:R}, ours {actual:R}");
            }
        }

        // The weights moved as the official ones did: compared as updates, whose size is what LARS and the groups decide.
        int compared = 0;
        foreach (var (name, tensor) in model.StateDict())
        {
            var expected = torch.ReadTensor("model." + name);
            if (tensor.DType == DType.Int32)
            {
                Assert.Equal(expected.ToArray<int>(), tensor.ToArray<int>()); // num_batches_tracked
                continue;
            }
            var start = before[name];
            var ours = tensor.ToArray<double>();
            var theirs = expected.ToArray<double>();
            double scale = theirs.Select((v, i) => Math.Abs(v - start[i])).Max();
            Assert.True(scale > 0, $"{name} did not move: the test would not see its update");
            for (int i = 0; i < ours.Length; i++)
                Assert.True(Math.Abs((ours[i] - start[i]) - (theirs[i] - start[i])) <= 1e-8 * scale,
                    $"{name}[{i}]: PyTorch moved it by {theirs[i] - start[i]:G17}, we by {ours[i] - start[i]:G17}");
            compared++;
        }
        Assert.True(compared > 50, $"only {compared} tensors compared");
    }

    private static Tensor Views(ulong seed)
    {
        var rng = new Rng(seed);
        var v = Enumerable.Range(0, Batch * Channels * Size * Size).Select(_ => rng.Uniform(-2, 2)).ToArray();
        return Tensor.FromArray<double>(v, new Shape(Batch, Channels, Size, Size), CpuBackend.Instance);
    }

    private static double Scalar(SafetensorsReader r, string name) => r.ReadTensor(name).ToArray<double>()[0];

    private static string Text(double v) => v.ToString("R", CultureInfo.InvariantCulture);
}
