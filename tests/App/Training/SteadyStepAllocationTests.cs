using Vicreg.Augment;
using Vicreg.Datasets;
using Vicreg.Engine;
using Vicreg.Engine.Autograd;
using Vicreg.Engine.Backends.Cpu;
using Vicreg.Engine.Data;
using Vicreg.Engine.Optim;
using Vicreg.Losses;
using Vicreg.Engine.Models;
using Vicreg.Tests.Engine.Backends.Cpu;
using Vicreg.Training;

namespace Vicreg.Tests.App.Training;

/// <summary>
/// A steady VICReg pretraining step on the CPU puts nothing on the GC heap: the loader hands over a batch of two
/// augmented views (decoded and augmented on its worker thread), a small ResNet (imagenet stem: convolutions, batch
/// norm, ReLU, max pooling, residual adds, global pooling) and the expander run both views, the VICReg loss reads
/// its terms and the embeddings' spread, backward, LARS. Tensor headers, storages and tape nodes come back from
/// their pools; the kernels and the loader reuse their buffers.
/// The bytes are counted on every thread the step runs on: this one, each thread of the CPU backend's pool and the
/// loader's worker. Not with GC.GetTotalAllocatedBytes: inside the test host that also counts the host's own
/// threads, which allocate a few hundred bytes a second while no test code runs (the bench's `vicreg` section
/// reads it in a process of its own, where it stays at 0).
/// </summary>
public class SteadyStepAllocationTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void SteadyStepAllocatesNoGcObjects(int threads)
    {
        using var _ = new ThreadCountScope(threads);
        var dataset = new PatternDataset();
        using var loader = new DataLoader(dataset, VicregAugmentations.SmallImageTwoViews(32, DatasetNormalization.Cifar10),
            new DataLoaderOptions { BatchSize = 8, NumWorkers = 1, Seed = 3 });
        using var batches = loader.Epoch(0).GetEnumerator();
        var rng = new Rng(17);
        var backbone = Backbones.Create("resnet18", ResNetStem.Imagenet, 0.125, 3, ref rng);
        var model = new VicregModel(backbone, Expander.Create(backbone.RepresentationSize, "32-32-32", ref rng));
        var optimizer = new Lars(model.NamedParameters(), weightDecay: 1e-6);
        var loss = new VicregLoss();
        double lastLoss = 0;
        void Step()
        {
            Assert.True(batches.MoveNext());
            var views = batches.Current.Views;
            using var scope = TensorScope.Begin();
            var za = model.Forward(views[0]);
            var output = loss.Forward(za, model.Forward(views[1]));
            lastLoss = output.ReadTerms().Weighted(loss.SimCoeff, loss.StdCoeff, loss.CovCoeff);
            Assert.True(EmbeddingStatistics.MeanStd(za) > 0);
            optimizer.ZeroGrad();
            output.Loss.Backward();
            optimizer.Step(0.1);
        }

        for (int i = 0; i < 4; i++) Step();
        long before = PoolThreadsAllocated(), loaderBefore = dataset.WorkerAllocated, processBefore = GC.GetTotalAllocatedBytes(precise: true);
        for (int i = 0; i < 6; i++) Step();
        long allocated = PoolThreadsAllocated() - before, loaderAllocated = dataset.WorkerAllocated - loaderBefore;
        long process = GC.GetTotalAllocatedBytes(precise: true) - processBefore;

        Assert.True(double.IsFinite(lastLoss) && lastLoss > 0, $"loss {lastLoss}");
        Assert.Equal(0, Tape.Count);
        Assert.True(allocated == 0 && loaderAllocated == 0,
            $"6 steady steps at {threads} thread(s) allocated {allocated} bytes on the step's threads and {loaderAllocated} on the loader's " +
            $"({process} in the whole process)");
    }

    /// <summary>The bytes allocated so far by every thread of the CPU backend's pool (this one is its chunk 0): a loop of
    /// one item per thread, each reading its own thread's count.</summary>
    private static long PoolThreadsAllocated()
    {
        var body = new AllocatedBytes();
        CpuParallel.For(CpuParallel.ThreadCount, ref body);
        return body.Total;
    }

    private struct AllocatedBytes : IRangeBody
    {
        public long Total;
        public void Run(int start, int end) => Interlocked.Add(ref Total, GC.GetAllocatedBytesForCurrentThread());
    }

    /// <summary>32x32 RGB samples of a different pattern each, made in place; each read notes what the reading thread
    /// (the loader's one worker) has allocated so far.</summary>
    private sealed class PatternDataset : IImageDataset
    {
        private long _workerAllocated;

        public long WorkerAllocated => Volatile.Read(ref _workerAllocated);
        public int Count => 320;
        public IReadOnlyList<string> Classes { get; } = ["even", "odd"];
        public int Channels => 3;
        public int Label(int index) => index % 2;
        public string Describe(int index) => $"pattern-{index}";

        public void Read(int index, ImageBuffer destination, ref byte[] scratch, IDecodeScaleChooser? scale = null)
        {
            var pixels = destination.Reset(32, 32, 3);
            for (int i = 0; i < pixels.Length; i++) pixels[i] = (byte)(i * (index % 7 + 3) + index * 29);
            Volatile.Write(ref _workerAllocated, GC.GetAllocatedBytesForCurrentThread());
        }
    }
}
