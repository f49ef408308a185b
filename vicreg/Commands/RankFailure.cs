using Vicreg.Engine.Distributed;

namespace Vicreg.Commands;

/// <summary>
/// A rank that fails must not leave the others waiting in a collective: with several ranks, any exception
/// becomes one line on stderr naming the rank, then MPI_Abort ends the whole job (exit code 2 for a
/// user's mistake, 1 for anything else). With one rank, exceptions pass through unchanged.
/// </summary>
public static class RankFailure
{
    public static T Guard<T>(ICommunicator communicator, Func<T> work)
    {
        if (communicator.Size == 1) return work();
        try
        {
            return work();
        }
        catch (Exception e)
        {
            bool usage = e is UsageException;
            string what = usage ? e.Message : $"{e.GetType().Name}: {e.Message}";
            Console.Error.WriteLine($"vicreg: rank {communicator.Rank} of {communicator.Size}: {what}");
            communicator.Abort(usage ? 2 : 1);
            throw; // not reached: Abort ends the process
        }
    }
}
