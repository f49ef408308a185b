using Vicreg.Engine;
using Vicreg.Engine.Autograd;
using Vicreg.Engine.Distributed;

namespace Vicreg.Losses;

/// <summary>
/// The Barlow Twins loss (Zbontar et al. 2021, the official code): each embedding is normalized per
/// dimension over the batch (BatchNorm1d without affine: biased variance, eps 1e-5), c = A^T B / N and
/// <code>  loss = sum_i (1 - c_ii)^2 + lambda · sum_{i != j} c_ij^2   (lambda 0.0051 by default)</code>
/// Backward derived by hand, as for <see cref="VicregLoss"/>: with G = dL/dc, i.e. G_ij = 2 lambda c_ij off
/// the diagonal and G_ii = -2 w (1 - c_ii) (w the on-diagonal weight, 1 in training),
/// <code>  dL/dA = B G^T / N = (2 lambda / N) B c_off^T + B diag(g) / N,   dL/dB = (2 lambda / N) A c_off + A diag(g) / N</code>
/// with g_i = -2 w (1 - c_ii) and c_off = c with its diagonal set to zero; then through the normalization with the batch-norm backward
/// kernel. The gradients are formed in the forward pass, so the D x D matrix c is freed at once.
/// </summary>
/// <remarks><paramref name="onDiagonalWeight"/> (1 in training) weighs the on-diagonal sum: 0 leaves the off-diagonal term
/// alone, for its own gradient (`vicreg loss-grad --loss barlowtwins`).</remarks>
public sealed class BarlowTwinsLoss(double lambda = 0.0051, double onDiagonalWeight = 1)
{
    public const double Epsilon = 1e-5;
    public double Lambda { get; } = lambda;
    public double OnDiagonalWeight { get; } = onDiagonalWeight;

    /// <summary>The loss (differentiable) and the terms [2]: on-diagonal sum and off-diagonal sum (unweighted).
    /// With a communicator of several ranks, z_a and z_b are this rank's rows and the loss is the global batch's, as the
    /// official code's (synchronised normalization, c summed over the ranks): the rows are gathered by
    /// <see cref="Ops.AllGather"/>, whose backward sums the ranks' gradients, so averaging the parameters' gradients over the
    /// ranks gives the one-process gradient on the whole batch. Every rank computes the same loss and terms.</summary>
    public (Tensor Loss, Tensor Terms) Forward(Tensor za, Tensor zb, ICommunicator? communicator = null)
    {
        if (communicator is not { Size: > 1 }) return Whole(za, zb);
        return Whole(Ops.AllGather(za, communicator), Ops.AllGather(zb, communicator));
    }

    private (Tensor Loss, Tensor Terms) Whole(Tensor za, Tensor zb)
    {
        const string op = "barlow_twins_loss";
        if (!ReferenceEquals(za.Backend, zb.Backend)) throw new ShapeMismatchException($"{op}: z_a and z_b live on different backends");
        ShapeMismatchException.SameDType(op, za, zb);
        ShapeMismatchException.Require(za.Rank == 2 && za.Shape == zb.Shape, op, "z_a and z_b must both be [N, D]", za, zb);
        if (za.DType == DType.Int32) throw new ShapeMismatchException($"{op}: needs floating-point embeddings");
        if (za.Shape[0] < 2) throw new ShapeMismatchException($"{op}: needs at least 2 samples to normalize (got {za.Shape})");
        int n = za.Shape[0], d = za.Shape[1];
        var be = za.Backend;
        var dtype = za.DType;
        Tensor Matrix() => Tensor.Empty(za.Shape, dtype, be);
        Tensor Vec() => Tensor.Empty(new Shape(d), dtype, be);

        using var a = Matrix();
        using var b = Matrix();
        using var meanA = Vec();
        using var invStdA = Vec();
        using var meanB = Vec();
        using var invStdB = Vec();
        be.BatchNormTraining(za, null, null, null, null, 0, Epsilon, a, meanA, invStdA);
        be.BatchNormTraining(zb, null, null, null, null, 0, Epsilon, b, meanB, invStdB);

        using var c = Tensor.Empty(new Shape(d, d), dtype, be);
        be.Gemm(true, false, 1.0 / n, a, b, 0, c);
        // diagonal of c, without touching c: c_ii = sum_n A_ni B_ni / N
        using var diagonal = Vec();
        using var product = Matrix();
        be.Binary(BinaryOp.Mul, a, b, product);
        be.ChannelSum(product, n, d, 1, 1.0 / n, diagonal);

        var terms = Tensor.Empty(new Shape(2), dtype, be);
        using var onDiagonal = terms.NarrowView(0, 1);
        using var offDiagonal = terms.NarrowView(1, 1);
        using var scratch = Vec();
        be.Unary(UnaryOp.Scale, diagonal, scratch, -1);
        be.Unary(UnaryOp.AddScalar, scratch, scratch, 1);
        be.SumOfSquares(scratch, onDiagonal);                 // sum (1 - c_ii)^2
        // The diagonal is set to zero rather than its squares subtracted from ||c||^2: the diagonal above comes
        // from another kernel than the GEMM's, and the difference of their roundings would be left over.
        be.FillDiagonal(c, 0);
        be.SumOfSquares(c, offDiagonal);                      // sum_{i != j} c_ij^2

        var loss = Tensor.Empty(new Shape(), dtype, be);
        be.Unary(UnaryOp.Scale, onDiagonal, loss, OnDiagonalWeight);
        be.Axpy(Lambda, offDiagonal, loss);
        if (!Tape.NeedsGrad(za, zb)) return (loss, terms);

        // g_i = -2 w (1 - c_ii) with w the on-diagonal weight, as a per-column factor (scratch holds 1 - c_ii); c is off-diagonal now.
        using var g = Vec();
        be.Unary(UnaryOp.Scale, scratch, g, -2 * OnDiagonalWeight);
        using var gBroadcast = Matrix();
        be.Broadcast(g, 1, n, d, 1.0 / n, gBroadcast);
        using var da = Matrix();
        using var db = Matrix();
        be.Binary(BinaryOp.Mul, b, gBroadcast, da);
        be.Gemm(false, true, 2 * Lambda / n, b, c, 1, da);      // + (2 lambda / N) B c^T
        be.Binary(BinaryOp.Mul, a, gBroadcast, db);
        be.Gemm(false, false, 2 * Lambda / n, a, c, 1, db);     // + (2 lambda / N) A c
        var ga = Matrix();
        var gb = Matrix();
        be.BatchNormBackward(za, da, null, meanA, invStdA, ga, null, null);
        be.BatchNormBackward(zb, db, null, meanB, invStdB, gb, null, null);
        Tape.Record(new GradientNode(za, zb, ga, gb), loss);
        return (loss, terms);
    }

    /// <summary>A root whose input gradients were formed in the forward: the backward scales them by dy.</summary>
    private sealed class GradientNode(Tensor za, Tensor zb, Tensor ga, Tensor gb) : Node
    {
        public override string Name => "barlow_twins_loss";

        public override void Backward(Tensor dy)
        {
            var be = dy.Backend;
            foreach (var (input, g) in (ReadOnlySpan<(Tensor, Tensor)>)[(za, ga), (zb, gb)])
            {
                if (!input.RequiresGrad) continue;
                var scaled = Tensor.EmptyLike(g);
                be.Broadcast(dy, 1, checked((int)g.Numel), 1, 1, scaled);
                be.Binary(BinaryOp.Mul, scaled, g, scaled);
                Tape.Accumulate(input, scaled);
            }
        }

        public override void ReleaseSaved()
        {
            ga.Dispose();
            gb.Dispose();
        }
    }
}
