using Vicreg.Engine.Data.Datasets;
using Vicreg.Tests.Engine.Backends.Cuda;
using Vicreg.Training;

namespace Vicreg.Tests.App.Training;

/// <summary>Pretraining with --device cuda (on a GPU, or the CPU emulation of test stage 2): batches are uploaded
/// through the pinned ring while the previous step computes, and the losses are the CPU's.</summary>
[Collection(CudaDeviceCollection.Name)]
public sealed class CudaPretrainTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "vicreg-cuda-pretrain-tests-" + Guid.NewGuid().ToString("N"));

    /// <summary>As the conformance suite's training steps: float32 with other summation orders, held to 1e-3 relative.</summary>
    private const double Tolerance = 1e-3;

    /// <summary>Three steps over two epochs of two batches: the first batch of each epoch, and one uploaded while the
    /// step before it computed (a step that did not wait for its upload would read a stale or empty buffer).</summary>
    [SkippableFact]
    public void PretrainingOnCudaGivesTheCpuLosses()
    {
        Skip.IfNot(Directory.Exists(IdxDataset.DefaultFashionMnistPath()),
            $"skipped: Fashion-MNIST not installed at {IdxDataset.DefaultFashionMnistPath()} (tools/install-deps.sh installs it)");
        CudaTestDevice.Require();
        var cpu = Run("cpu");
        var cuda = Run("cuda");
        Assert.Equal(3, cuda.Count);
        for (int i = 0; i < cpu.Count; i++)
            Assert.True(Math.Abs(cuda[i] - cpu[i]) <= Tolerance * Math.Abs(cpu[i]), $"step {i + 1}: cpu {cpu[i]:R}, cuda {cuda[i]:R}");
    }

    private IReadOnlyList<double> Run(string device) => new Pretrainer(new PretrainOptions
    {
        ExpDir = Path.Combine(_root, device),
        Width = 0.125,
        Mlp = "32-32",
        Limit = 16,
        BatchSize = 8,
        Epochs = 2,
        MaxSteps = 3,
        WarmupEpochs = 1,
        BaseLr = 0.8,
        NumWorkers = 1,
        Device = device,
        NoTf32 = true,
        Seed = 5,
        LogFreqTime = 0,
    }, "vicreg pretrain (test)", TextWriter.Null).Run().Losses;

    public void Dispose()
    {
        if (Directory.Exists(_root)) Directory.Delete(_root, recursive: true);
    }
}
