using Vicreg.Engine;
using Vicreg.Engine.Backends.Cpu;
using Vicreg.Engine.Backends.Cuda;
using Vicreg.Engine.Backends.Cuda.Native;
using Vicreg.Engine.Distributed;
using Vicreg.Tests.Engine.Distributed;

namespace Vicreg.Tests.Engine.Backends.Cuda;

/// <summary>
/// Two NCCL ranks, each a thread with its own CUDA backend, bootstrapped over in-process ranks (rank 0's
/// unique id broadcast to rank 1): on devices 0 and 1 of a machine with two GPUs, or both on the CPU
/// emulation's one device with its fake libnccl, whose ranks find each other only through the broadcast id
/// and which queues each result on the collective's stream. The inputs are written by copies still queued
/// on the compute stream and the results are read through the compute stream, so a missing event wait in
/// either direction reads stale data.
/// </summary>
[Collection(CudaDeviceCollection.Name)]
public class NcclCommunicatorTests
{
    private const int Ranks = 2;

    private static float[] Values(int rank, int n) => CudaTestDevice.RandomArray(n, (ulong)(31 + rank));

    /// <summary>A device tensor holding <paramref name="values"/>, written by a device copy still queued on the compute stream.</summary>
    private static Tensor Queued(CudaBackend backend, float[] values, params int[] dims)
    {
        using var source = CudaTestDevice.On(backend, values, dims);
        var t = Tensor.Empty(new Shape(dims), DType.Float32, backend);
        backend.Copy(source, 0, t, 0, t.Numel);
        return t;
    }

    private static T[] OnTwoRanks<T>(Func<NcclCommunicator, CudaBackend, T> body)
    {
        var first = CudaTestDevice.Require();
        Skip.IfNot(CudaLibraries.TryLoad(CudaLibrary.Nccl, out _), $"skipped: {CudaLibraries.NotFoundMessage(CudaLibrary.Nccl)}");
        bool emulated = first.DeviceInfo.Name.StartsWith("CPU emulator", StringComparison.Ordinal);
        var devices = CudaProbe.Run().Devices.Count;
        Skip.If(!emulated && devices < 2, "skipped: two NCCL ranks need two GPUs (one rank per device)");
        using var second = new CudaBackend(emulated ? 0 : 1, allowTf32: false);
        CudaBackend[] backends = [first, second];
        return ThreadRanks.Run(Ranks, bootstrap =>
        {
            using var nccl = new NcclCommunicator(bootstrap, backends[bootstrap.Rank]);
            Assert.Equal(bootstrap.Rank, nccl.Rank);
            Assert.Equal(Ranks, nccl.Size);
            return body(nccl, backends[bootstrap.Rank]);
        });
    }

    [SkippableFact]
    public void All_reduce_sums_over_the_ranks_in_stream_order()
    {
        const int n = 37;
        var results = OnTwoRanks((nccl, backend) =>
        {
            using var blocking = Queued(backend, Values(nccl.Rank, n), n);
            nccl.AllReduceSum(blocking);
            using var started = Queued(backend, Values(nccl.Rank + 10, n), n);
            var pending = nccl.StartAllReduceSum(started);
            pending.Wait();
            using var host = Tensor.FromArray<double>([nccl.Rank + 0.5], new Shape(1), CpuBackend.Instance);
            nccl.AllReduceSum(host);
            return (Blocking: blocking.ToArray<float>(), Started: started.ToArray<float>(), Host: host.Item());
        });
        var sum = Values(0, n).Zip(Values(1, n), (a, b) => a + b).ToArray();
        var startedSum = Values(10, n).Zip(Values(11, n), (a, b) => a + b).ToArray();
        foreach (var r in results)
        {
            Assert.Equal(sum, r.Blocking);
            Assert.Equal(startedSum, r.Started);
            Assert.Equal(2.0, r.Host);
        }
    }

    [SkippableFact]
    public void An_asynchronous_nccl_error_aborts_the_communicator_and_fails_the_next_collective()
    {
        EmulatorFaults.Require();
        EmulatorFaults.Nccl("aborts_seen", 0);
        var previous = NcclCommunicator.WatchdogInterval;
        NcclCommunicator.WatchdogInterval = TimeSpan.FromMilliseconds(10);
        try
        {
            var failures = OnTwoRanks((nccl, backend) =>
            {
                using var t = Queued(backend, Values(nccl.Rank, 5), 5);
                nccl.AllReduceSum(t); // healthy: the watchdog has polled and found nothing
                Thread.Sleep(50);
                Assert.Null(nccl.AsyncFailure);
                nccl.Barrier();
                if (nccl.Rank == 0) EmulatorFaults.Nccl("async_error", 2); // ncclSystemError, as from a dead peer
                nccl.Barrier();
                var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
                while (nccl.AsyncFailure is null && DateTime.UtcNow < deadline) Thread.Sleep(5);
                var e = Assert.Throws<CudaException>(() => nccl.AllReduceSum(t));
                return e.Message;
            });
            foreach (var (message, rank) in failures.Select((m, r) => (m, r)))
                Assert.Equal($"NCCL failed on rank {rank} of 2: unhandled system error (fake libnccl) (a rank stopped or the network broke); the communicator was aborted", message);
            Assert.Equal(2, EmulatorFaults.Nccl("aborts_seen", 0)); // each rank's watchdog aborted its communicator
        }
        finally
        {
            EmulatorFaults.Nccl("async_error", 0);
            NcclCommunicator.WatchdogInterval = previous;
        }
    }

    [SkippableFact]
    public void All_gather_and_broadcast_give_every_rank_the_same_rows()
    {
        var results = OnTwoRanks((nccl, backend) =>
        {
            using var local = Queued(backend, Values(nccl.Rank, 15), 3, 5);
            using var gathered = Tensor.Empty(new Shape(6, 5), DType.Float32, backend);
            nccl.AllGather(local, gathered);
            using var broadcast = Queued(backend, Values(nccl.Rank + 20, 11), 11);
            nccl.Broadcast(broadcast, root: 1);
            return (Gathered: gathered.ToArray<float>(), Broadcast: broadcast.ToArray<float>());
        });
        foreach (var r in results)
        {
            Assert.Equal(Values(0, 15).Concat(Values(1, 15)), r.Gathered);
            Assert.Equal(Values(21, 11), r.Broadcast);
        }
    }
}
