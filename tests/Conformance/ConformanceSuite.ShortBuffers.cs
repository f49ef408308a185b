using Vicreg.Engine;
using static Vicreg.Tests.Conformance.ConformanceData;

namespace Vicreg.Tests.Conformance;

// Issue 12 item 11: a wrong-sized buffer is one ShapeMismatchException naming the kernel on every backend (from
// KernelChecks, which each backend calls first), never a write past the end of a host or device buffer.
public abstract partial class ConformanceSuite
{
    public static TheoryData<string> KernelFamilies() =>
        ["Copy", "Gemm", "Conv2dForward", "Conv2dBackwardData", "Conv2dBackwardFilter", "BatchNormTraining", "BatchNormBackward",
         "BatchNormReluTraining", "BatchNormReluBackward", "MaxPool2dForward", "MaxPool2dBackward", "Unary", "Binary", "AddChannelVector", "ChannelSum", "ReduceSum", "Broadcast",
         "SoftmaxCrossEntropy", "SgdUpdate", "LarsUpdate"];

    [SkippableTheory]
    [MemberData(nameof(KernelFamilies))]
    public void AShortOutputBufferIsOneClearError(string kernel)
    {
        var on = Backend;
        // Every input is the right size; the output is one element short.
        Tensor T(params int[] dims) => On(on, Random(new Shape(dims).Numel, 60), dims);
        var conv = new Conv2dGeometry(2, 3, 5, 5, 4, 3, 3, 1, 1, 1, 1);
        var pool = new Pool2dGeometry(2, 3, 6, 6, 2, 2, 2, 2, 0, 0);
        using var scope = TensorScope.Begin();
        Action call = kernel switch
        {
            "Copy" => () => on.Copy(T(9), 0, T(8), 0, 9),
            "Gemm" => () => on.Gemm(false, false, 1, T(3, 4), T(4, 5), 0, T(3, 4)),
            "Conv2dForward" => () => on.Conv2dForward(conv, T(2, 3, 5, 5), T(4, 3, 3, 3), T(2, 4, 5, 4)),
            "Conv2dBackwardData" => () => on.Conv2dBackwardData(conv, T(2, 4, 5, 5), T(4, 3, 3, 3), T(2, 3, 5, 4)),
            "Conv2dBackwardFilter" => () => on.Conv2dBackwardFilter(conv, T(2, 3, 5, 5), T(2, 4, 5, 5), T(4, 3, 3, 2)),
            "BatchNormTraining" => () => on.BatchNormTraining(T(4, 3, 5), T(3), T(3), T(3), T(3), 0.1, 1e-5, T(4, 3, 5), T(3), T(2)),
            "BatchNormBackward" => () => on.BatchNormBackward(T(4, 3, 5), T(4, 3, 5), T(3), T(3), T(3), T(4, 3, 4), T(3), T(3)),
            "BatchNormReluTraining" => () => on.BatchNormReluTraining(T(4, 3, 5), T(3), T(3), T(3), T(3), 0.1, 1e-5, T(4, 3, 4), T(3), T(3)),
            "BatchNormReluBackward" => () => on.BatchNormReluBackward(T(4, 3, 5), T(4, 3, 4), T(4, 3, 5), T(3), T(3), T(3), T(4, 3, 5), T(3), T(3)),
            "MaxPool2dForward" => () => on.MaxPool2dForward(pool, T(2, 3, 6, 6), T(2, 3, 3, 3), On(on, new int[53], 53)),
            "MaxPool2dBackward" => () => on.MaxPool2dBackward(pool, T(2, 3, 3, 3), On(on, new int[54], 54), T(2, 3, 6, 5)),
            "Unary" => () => on.Unary(UnaryOp.Relu, T(7), T(6)),
            "Binary" => () => on.Binary(BinaryOp.Add, T(7), T(7), T(6)),
            "AddChannelVector" => () => on.AddChannelVector(T(2, 3, 5), T(3), 2, 3, 5, 1, T(29)),
            "ChannelSum" => () => on.ChannelSum(T(2, 3, 5), 2, 3, 5, 1, T(2)),
            "ReduceSum" => () => on.ReduceSum(T(2, 3, 5), 2, 3, 5, 1, T(9)),
            "Broadcast" => () => on.Broadcast(T(2, 5), 2, 3, 5, 1, T(29)),
            "SoftmaxCrossEntropy" => () => on.SoftmaxCrossEntropy(T(4, 3), On(on, new int[4], 4), T(11), T(1)),
            "SgdUpdate" => () => on.SgdUpdate(T(7), T(7), T(6), 0.1, 0, 0.9),
            "LarsUpdate" => () => on.LarsUpdate(T(7), T(7), T(6), 0.1, 0, 0.9, 0.001, true),
            _ => throw new ArgumentOutOfRangeException(nameof(kernel), kernel, "no case"),
        };
        var e = Assert.Throws<ShapeMismatchException>(call);
        Assert.StartsWith(kernel + ":", e.Message);
        on.Synchronize();
    }
}
