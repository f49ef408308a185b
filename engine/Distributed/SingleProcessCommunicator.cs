namespace Vicreg.Engine.Distributed;

/// <summary>A job of one rank: every collective is the identity (a gather is a copy).</summary>
public sealed class SingleProcessCommunicator : ICommunicator
{
    public static readonly SingleProcessCommunicator Instance = new();

    public int Rank => 0;
    public int Size => 1;
    public string Name => "single process";

    public void AllReduceSum(Tensor tensor) { }

    public void AllGather(Tensor local, Tensor gathered)
    {
        CollectiveChecks.Gather(local, gathered, 1);
        local.Backend.Copy(local, 0, gathered, 0, local.Numel);
    }

    public void Broadcast(Tensor tensor, int root) => CollectiveChecks.Root(root, 1);

    public void Barrier() { }

    public void Abort(int exitCode) => Environment.Exit(exitCode);

    public void Dispose() { }
}
