using Vicreg.Engine.Autograd;
using Vicreg.Engine.Distributed;

namespace Vicreg.Engine;

public static partial class Ops
{
    /// <summary>
    /// Concatenates every rank's x [n, ...] along the first axis in rank order: [size · n, ...]. Every rank
    /// must call it with the same shape. As the official FullGatherLayer, the backward sums the incoming
    /// gradient over ranks (each rank's loss depends on every rank's rows) and keeps this rank's slice.
    /// </summary>
    public static Tensor AllGather(Tensor x, ICommunicator communicator)
    {
        const string op = "all_gather";
        Floating(op, x);
        ShapeMismatchException.Require(x.Rank >= 1, op, "input needs a first (batch) axis", x);
        var y = New(x, x.Shape.With(0, x.Shape[0] * communicator.Size));
        communicator.AllGather(x, y);
        return Tape.NeedsGrad(x) ? Tape.Record(new AllGatherNode(x, communicator), y) : y;
    }

    private sealed class AllGatherNode(Tensor x, ICommunicator communicator) : Node
    {
        public override string Name => "all_gather";

        public override void Backward(Tensor dy)
        {
            using var summed = Like(dy);
            dy.Backend.Copy(dy, 0, summed, 0, dy.Numel);
            communicator.AllReduceSum(summed);
            var dx = Like(x);
            dx.Backend.Copy(summed, communicator.Rank * x.Numel, dx, 0, x.Numel);
            Tape.Accumulate(x, dx);
        }
    }
}
