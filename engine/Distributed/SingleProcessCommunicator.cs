namespace Vicreg.Engine.Distributed;

/// <summary>A job of one rank: every collective is the identity (a gather is a copy).</summary>
public sealed class SingleProcessCommunicator : ICommunicator
{
    /// <summary>The one instance.</summary>
    public static readonly SingleProcessCommunicator Instance = new();

    /// <summary>0.</summary>
    public int Rank => 0;
    /// <summary>1.</summary>
    public int Size => 1;
    /// <summary>"single process".</summary>
    public string Name => "single process";

    /// <summary>Leaves <paramref name="tensor"/> as it is (the sum over one rank).</summary>
    public void AllReduceSum(Tensor tensor) { }

    /// <summary>Copies <paramref name="local"/> into <paramref name="gathered"/>.</summary>
    public void AllGather(Tensor local, Tensor gathered)
    {
        CollectiveChecks.Gather(local, gathered, 1);
        local.Backend.Copy(local, 0, gathered, 0, local.Numel);
    }

    /// <summary>Leaves <paramref name="tensor"/> as it is (<paramref name="root"/> must be 0).</summary>
    public void Broadcast(Tensor tensor, int root) => CollectiveChecks.Root(root, 1);

    /// <summary>Returns at once.</summary>
    public void Barrier() { }

    /// <summary>Ends the process with <paramref name="exitCode"/>.</summary>
    public void Abort(int exitCode) => Environment.Exit(exitCode);

    /// <summary>Nothing to release.</summary>
    public void Dispose() { }
}
