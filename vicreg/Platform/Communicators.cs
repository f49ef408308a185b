using Vicreg.Engine.Backends.Cpu;
using Vicreg.Engine.Distributed.Mpi;
using Vicreg.Engine.Distributed;

namespace Vicreg.Platform;

/// <summary>Chooses the communicator of a run (the --dist flag) and gives each rank its share of the cores.</summary>
public static class Communicators
{
    public static readonly string[] Modes = ["auto", "none", "mpi"];

    /// <summary>mpirun (OpenMPI) tells every rank the job's size in this variable.</summary>
    public static bool LaunchedByMpirun => Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_SIZE") is not null;

    /// <summary>The number of ranks mpirun started (1 when not started by mpirun), known without initialising MPI.</summary>
    public static int LauncherSize => int.TryParse(Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_SIZE"), out int n) && n > 0 ? n : 1;

    /// <summary>none: one process; mpi: the ranks of MPI_COMM_WORLD; auto: MPI when started by mpirun, else none.</summary>
    public static ICommunicator Create(string mode) => mode switch
    {
        "none" => SingleProcessCommunicator.Instance,
        "mpi" => new MpiCommunicator(),
        "auto" => LaunchedByMpirun ? new MpiCommunicator() : SingleProcessCommunicator.Instance,
        _ => throw new ArgumentException($"--dist must be {string.Join(", ", Modes)}, got '{mode}'"),
    };

    /// <summary>
    /// The CPU kernel threads of a rank: its share of the cores it sees, divided among the ranks mpirun
    /// started on the same machine (OMPI_COMM_WORLD_LOCAL_SIZE), so that two ranks never each run one
    /// thread per core. VICREG_THREADS, when set, wins.
    /// </summary>
    public static int ThreadsPerRank(int processorCount, string? localSize, string? explicitThreads)
    {
        if (int.TryParse(explicitThreads, out int t) && t > 0) return t;
        int ranksHere = int.TryParse(localSize, out int l) && l > 0 ? l : 1;
        return Math.Max(1, processorCount / ranksHere);
    }

    /// <summary>This rank's share of the cores it sees (all of them outside mpirun): the default number of
    /// data-loading threads, so that two ranks on one machine do not each start one loader per core.</summary>
    public static int CoresPerRank() =>
        ThreadsPerRank(Environment.ProcessorCount, Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_LOCAL_SIZE"), null);

    /// <summary>Sets the CPU backend's thread count to this rank's share (see <see cref="ThreadsPerRank"/>).</summary>
    public static void ShareCores()
    {
        int threads = ThreadsPerRank(Environment.ProcessorCount, Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_LOCAL_SIZE"),
            Environment.GetEnvironmentVariable("VICREG_THREADS"));
        if (threads != CpuParallel.ThreadCount) CpuParallel.ThreadCount = threads;
    }
}
