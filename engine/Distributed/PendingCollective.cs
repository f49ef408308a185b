namespace Vicreg.Engine.Distributed;

/// <summary>A collective started by <see cref="ICommunicator.StartAllReduceSum"/> that may still be in flight.</summary>
public abstract class PendingCollective
{
    /// <summary>One that had already completed when it was returned.</summary>
    public static readonly PendingCollective Completed = new Done();

    /// <summary>True once the result is in place. Asking also lets a library that progresses only inside its
    /// calls (MPI without a progress thread) move the transfer on, so callers ask while they compute.</summary>
    public abstract bool Poll();

    /// <summary>Returns once the result can be used by the caller's next work (for a GPU: work queued after this
    /// call on the compute stream sees it).</summary>
    public abstract void Wait();

    private sealed class Done : PendingCollective
    {
        public override bool Poll() => true;
        public override void Wait() { }
    }
}
