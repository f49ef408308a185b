using Vicreg.Engine;
using static Vicreg.Tests.Engine.Backends.Cpu.KernelTestSupport;

namespace Vicreg.Tests.Engine.Backends.Cpu;

/// <summary>The fused batch norm + ReLU kernels against the unfused ones they replace (the batch-norm kernel, then
/// ReLU's; ReLU's backward, then the batch-norm backward), which BatchNormKernelTests and ElementwiseKernelTests check
/// against their definitions. The fused kernels do the same arithmetic in the same order, so every output, the saved
/// and the running statistics included, must agree bit for bit.</summary>
[Collection(ThreadCountCollection.Name)]
public class BatchNormReluKernelTests
{
    public static TheoryData<int, int, int, int, bool, int> Cases()
    {
        var data = new TheoryData<int, int, int, int, bool, int>();
        // height 0 marks an (N, C) input; 1x1 planes take the (N, C) path too; 70 and 700 channels cross the
        // 64-channel block; the last two pass the parallel threshold.
        foreach (var (n, c, h) in new[] { (2, 1, 0), (7, 5, 0), (3, 70, 0), (5, 13, 1), (1, 3, 7), (3, 7, 7), (2, 13, 13), (1, 1, 13), (16, 31, 13), (64, 700, 0) })
            foreach (bool affine in new[] { true, false })
                foreach (int threads in new[] { 1, 2 })
                    data.Add(n, c, h, h, affine, threads);
        return data;
    }

    private static Shape InputShape(int n, int c, int h, int w) => h == 0 ? new Shape(n, c) : new Shape(n, c, h, w);

    [Theory]
    [MemberData(nameof(Cases))]
    public void ForwardAndBackwardEqualBatchNormThenRelu(int n, int c, int h, int w, bool affine, int threads)
    {
        using var _ = Threads(threads);
        using var scope = TensorScope.Begin();
        const double momentum = 0.1, eps = 1e-5;
        foreach (var dtype in FloatTypes)
        {
            var rng = Rng.ForKey(61, (ulong)(n * 1000 + c), (ulong)h, (ulong)dtype);
            var shape = InputShape(n, c, h, w);
            // An offset mean, so centring matters; gamma and beta of both signs, so the ReLU clamps about half.
            var x = Make(Array.ConvertAll(RandomValues(ref rng, shape.Numel), v => 3 + 2 * v), shape, dtype);
            var (dy, _) = Random(ref rng, shape, dtype);
            var gamma = affine ? Random(ref rng, new Shape(c), dtype).Tensor : null;
            var beta = affine ? Random(ref rng, new Shape(c), dtype).Tensor : null;
            var runningMean = Random(ref rng, new Shape(c), dtype).Values;
            var runningVar = PositiveValues(ref rng, c);

            double[][] Unfused()
            {
                var (y, mean, invStd, rm, rv) = Outputs(shape, c, dtype, runningMean, runningVar);
                Host.BatchNormTraining(x, gamma, beta, rm, rv, momentum, eps, y, mean, invStd);
                Host.Unary(UnaryOp.Relu, y, y);
                var masked = Garbage(shape, dtype);
                Host.Binary(BinaryOp.ReluBackward, y, dy, masked);
                var (dx, dgamma, dbeta) = Gradients(shape, c, dtype, affine);
                Host.BatchNormBackward(x, masked, gamma, mean, invStd, dx, dgamma, dbeta);
                return Collect(y, mean, invStd, rm, rv, dx, dgamma, dbeta);
            }

            double[][] Fused()
            {
                var (y, mean, invStd, rm, rv) = Outputs(shape, c, dtype, runningMean, runningVar);
                Host.BatchNormReluTraining(x, gamma, beta, rm, rv, momentum, eps, y, mean, invStd);
                var (dx, dgamma, dbeta) = Gradients(shape, c, dtype, affine);
                Host.BatchNormReluBackward(x, y, dy, gamma, mean, invStd, dx, dgamma, dbeta);
                return Collect(y, mean, invStd, rm, rv, dx, dgamma, dbeta);
            }

            var expected = Unfused();
            var actual = Fused();
            if (shape.Numel >= 20)
            {
                // Both sides of the ReLU occur, so the mask is exercised in both directions.
                Assert.Contains(expected[0], v => v == 0);
                Assert.Contains(expected[0], v => v > 0);
            }
            string[] names = ["y", "saveMean", "saveInvStd", "runningMean", "runningVar", "dx", "dgamma", "dbeta"];
            for (int i = 0; i < names.Length; i++)
                Assert.True(expected[i].AsSpan().SequenceEqual(actual[i]), $"{names[i]} differs: {dtype.Name()} {shape} affine={affine} threads={threads}");
        }
    }

    private static (Tensor Y, Tensor Mean, Tensor InvStd, Tensor RunningMean, Tensor RunningVar) Outputs(
        Shape shape, int c, DType dtype, double[] runningMean, double[] runningVar)
        => (Garbage(shape, dtype), Garbage(new Shape(c), dtype), Garbage(new Shape(c), dtype),
            Make(runningMean, new Shape(c), dtype), Make(runningVar, new Shape(c), dtype));

    private static (Tensor Dx, Tensor? DGamma, Tensor? DBeta) Gradients(Shape shape, int c, DType dtype, bool affine)
        => (Garbage(shape, dtype), affine ? Garbage(new Shape(c), dtype) : null, affine ? Garbage(new Shape(c), dtype) : null);

    private static double[][] Collect(params Tensor?[] tensors) => Array.ConvertAll(tensors, t => t is null ? [] : Read(t));
}
