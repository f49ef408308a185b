using Vicreg.Platform;

namespace Vicreg.Tests.App.Commands;

/// <summary>How the program reacts to mpirun without starting MPI: the cores each rank takes, the commands
/// that stay single-process, and the flags of a distributed pretraining that are refused.</summary>
public class DistributedLaunchTests
{
    [Theory]
    [InlineData(2, "2", null, 1)]    // two ranks on two cores: one thread each, never 2 x 2
    [InlineData(8, "2", null, 4)]
    [InlineData(3, "2", null, 1)]
    [InlineData(1, "4", null, 1)]    // more ranks than cores: still one thread
    [InlineData(6, null, null, 6)]   // not launched by mpirun: every core
    [InlineData(8, "2", "3", 3)]     // VICREG_THREADS wins
    public void Each_rank_takes_its_share_of_the_cores(int cores, string? localSize, string? explicitThreads, int expected) =>
        Assert.Equal(expected, Communicators.ThreadsPerRank(cores, localSize, explicitThreads));

    private static (int Code, string Out, string Err) UnderMpirun(string size, params string[] args)
    {
        var previous = Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_SIZE");
        Environment.SetEnvironmentVariable("OMPI_COMM_WORLD_SIZE", size);
        try { return CommandRunner.Run(args); }
        finally { Environment.SetEnvironmentVariable("OMPI_COMM_WORLD_SIZE", previous); }
    }

    [Theory]
    [InlineData("linear-eval")]
    [InlineData("embed")]
    public void Evaluation_commands_refuse_several_ranks(string command) =>
        CommandRunner.AssertUsageError(UnderMpirun("2", command, "--help"), $"{command} runs in one process");

    [Fact]
    public void An_unknown_dist_mode_is_one_line() =>
        CommandRunner.AssertUsageError(CommandRunner.Run("pretrain", "--dist", "gloo"), "--dist must be auto, none, mpi");
}
