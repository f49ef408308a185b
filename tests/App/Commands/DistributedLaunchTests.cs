using Vicreg.Platform;

namespace Vicreg.Tests.App.Commands;

/// <summary>How the program reacts to mpirun without starting MPI: the cores each rank takes, the commands
/// that stay single-process, the flags of a distributed pretraining that are refused, and who reports a mistake.
/// Alone (the launcher's variables it sets are process-wide: another command test would see them).</summary>
[Collection(Name)]
public class DistributedLaunchTests
{
    public const string Name = "mpirun environment variables";

    [CollectionDefinition(Name, DisableParallelization = true)]
    public sealed class Alone;

    [Theory]
    [InlineData(2, "2", null, 1)]    // two ranks on two cores: one thread each, never 2 x 2
    [InlineData(8, "2", null, 4)]
    [InlineData(3, "2", null, 1)]
    [InlineData(1, "4", null, 1)]    // more ranks than cores: still one thread
    [InlineData(6, null, null, 6)]   // not launched by mpirun: every core
    [InlineData(8, "2", "3", 3)]     // VICREG_THREADS wins
    public void Each_rank_takes_its_share_of_the_cores(int cores, string? localSize, string? explicitThreads, int expected) =>
        Assert.Equal(expected, Communicators.ThreadsPerRank(cores, localSize, explicitThreads));

    private static (int Code, string Out, string Err) UnderMpirun(string size, params string[] args) => AsRank(size, "0", args);

    private static (int Code, string Out, string Err) AsRank(string size, string rank, params string[] args)
    {
        var previousSize = Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_SIZE");
        var previousRank = Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_RANK");
        Environment.SetEnvironmentVariable("OMPI_COMM_WORLD_SIZE", size);
        Environment.SetEnvironmentVariable("OMPI_COMM_WORLD_RANK", rank);
        try { return CommandRunner.Run(args); }
        finally
        {
            Environment.SetEnvironmentVariable("OMPI_COMM_WORLD_SIZE", previousSize);
            Environment.SetEnvironmentVariable("OMPI_COMM_WORLD_RANK", previousRank);
        }
    }

    [Theory]
    [InlineData("pretrain", "--dist", "gloo")]
    [InlineData("pretrain", "--no-such-flag")]
    [InlineData("no-such-command")]
    [InlineData("embed", "--help")]
    public void A_mistake_every_rank_makes_is_reported_by_rank_0_alone(params string[] args)
    {
        var first = AsRank("2", "0", args);
        Assert.Equal(2, first.Code);
        Assert.Single(first.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        var other = AsRank("2", "1", args);
        Assert.Equal(2, other.Code);
        Assert.Equal("", other.Err + other.Out);
    }

    [Theory]
    [InlineData(1, 2, 2, true)]    // OpenMPI's default for 2 ranks: one core each
    [InlineData(2, 2, 2, false)]   // --bind-to none
    [InlineData(1, 2, 1, false)]   // one rank: nothing to share
    [InlineData(4, 8, 2, true)]
    public void Pinned_ranks_get_one_line_of_advice(int allowed, int online, int ranksHere, bool advised)
    {
        var advice = Communicators.BindingAdvice(allowed, online, ranksHere);
        Assert.Equal(advised, advice is not null);
        if (advice is not null) Assert.Contains("--bind-to none --mca mpi_yield_when_idle 1", advice);
    }

    [Theory]
    [InlineData("0-1\n", 2)]
    [InlineData("0-3,6", 5)]
    [InlineData("0", 1)]
    [InlineData("garbage", 0)]
    public void Online_cores_are_counted_from_the_kernel_list(string list, int expected) =>
        Assert.Equal(expected, Communicators.OnlineCores(list));

    [Theory]
    [InlineData("linear-eval")]
    [InlineData("embed")]
    public void Evaluation_commands_refuse_several_ranks(string command) =>
        CommandRunner.AssertUsageError(UnderMpirun("2", command, "--help"), $"{command} runs in one process");

    [Fact]
    public void An_unknown_dist_mode_is_one_line() =>
        CommandRunner.AssertUsageError(CommandRunner.Run("pretrain", "--dist", "gloo"), "--dist must be auto, none, mpi");
}
