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

    /// <summary>The number of ranks mpirun started (1 when not started by mpirun), known without initializing MPI.</summary>
    public static int LauncherSize => int.TryParse(Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_SIZE"), out int n) && n > 0 ? n : 1;

    /// <summary>This process's rank as mpirun numbers them (0 outside mpirun), known without initializing MPI.</summary>
    public static int LauncherRank => int.TryParse(Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_RANK"), out int r) && r > 0 ? r : 0;

    /// <summary>True for the process that reports what every rank gets wrong alike (a bad flag): rank 0, or the only one.
    /// The other ranks exit with the same code in silence, so a mistake prints once, not once per rank.</summary>
    public static bool ReportsForTheJob => LauncherRank == 0;

    /// <summary>This process's index among the ranks mpirun started on its machine (0 outside mpirun): which GPU it takes.</summary>
    public static int LocalRank => int.TryParse(Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_LOCAL_RANK"), out int r) && r > 0 ? r : 0;

    /// <summary>none: one process; mpi: the ranks of MPI_COMM_WORLD; auto: MPI when started by mpirun, else none. On
    /// CUDA, the ranks' device collectives then go through NCCL, bootstrapped over this communicator (see DataParallel).</summary>
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

    /// <summary>
    /// One line of advice when mpirun has pinned the ranks of this machine to a few cores each (OpenMPI binds
    /// to a core by default for 2 ranks or fewer): a rank's data-loading threads then share its one core, and
    /// without mpi_yield_when_idle the ranks spin while they wait in a collective. Null when not pinned.
    /// </summary>
    public static string? BindingAdvice(int allowedCores, int onlineCores, int ranksHere) =>
        ranksHere > 1 && allowedCores < onlineCores
            ? $"note: mpirun bound this rank to {allowedCores} of the machine's {onlineCores} cores (OpenMPI's default); on one machine " +
              "'mpirun --bind-to none --mca mpi_yield_when_idle 1 ...' is usually faster"
            : null;

    /// <summary><see cref="BindingAdvice(int, int, int)"/> for this process: the cores it may run on against the cores online.</summary>
    public static string? BindingAdvice()
    {
        int online = OnlineCores();
        return online > 0 ? BindingAdvice(Environment.ProcessorCount, online, int.TryParse(Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_LOCAL_SIZE"), out int l) ? l : 1) : null;
    }

    /// <summary>The cores online ("0-3,6" in /sys/devices/system/cpu/online), or 0 when unknown.</summary>
    public static int OnlineCores(string? list = null)
    {
        try { list ??= File.ReadAllText("/sys/devices/system/cpu/online"); }
        catch (IOException) { return 0; }
        catch (UnauthorizedAccessException) { return 0; }
        int count = 0;
        foreach (var part in list.Trim().Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            var ends = part.Split('-');
            if (!int.TryParse(ends[0], out int first) || !int.TryParse(ends[^1], out int last) || last < first) return 0;
            count += last - first + 1;
        }
        return count;
    }

    /// <summary>Sets the CPU backend's thread count to this rank's share (see <see cref="ThreadsPerRank"/>).</summary>
    public static void ShareCores()
    {
        int threads = ThreadsPerRank(Environment.ProcessorCount, Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_LOCAL_SIZE"),
            Environment.GetEnvironmentVariable("VICREG_THREADS"));
        if (threads != CpuParallel.ThreadCount) CpuParallel.ThreadCount = threads;
    }
}
