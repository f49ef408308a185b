using Vicreg.Engine;
using Vicreg.Engine.Autograd;
using Vicreg.Engine.Distributed;

namespace Vicreg.Losses;

/// <summary>
/// The VICReg loss of two embeddings z_a, z_b [N, D], exactly as the official code (VICREG.md):
/// <code>
///   invariance = mean((z_a - z_b)^2)
///   variance   = mean_j relu(1 - sqrt(var_j(z_a) + 1e-4)) / 2 + (same for z_b)       (unbiased var)
///   covariance = sum_{i != j} C_ij(z_a)^2 / D + (same for z_b),   C = Zc^T Zc / (N - 1)
///   loss = simCoeff * invariance + stdCoeff * variance + covCoeff * covariance
/// </code>
/// A custom autograd function with a backward derived by hand (no tape inside). With Zc the centred
/// columns, s_j = sqrt(var_j + eps), and C_off the covariance with its diagonal removed:
/// <code>
///   d invariance / d z_a = 2 (z_a - z_b) / (N D)                 (and the negative for z_b)
///   d variance   / d z   = -[s_j &lt; 1] Zc_ij / (2 D (N-1) s_j)   (per branch)
///   d covariance / d z   = 4 / (D (N-1)) · Zc C_off                (per branch)
/// </code>
/// The centring adds nothing to the last two (each centred column sums to zero, so projecting the
/// gradient onto zero-mean columns leaves it unchanged).
/// The gradient is computed in the forward pass, when the D x D covariance is at hand, and the
/// covariance is released at once: the backward only scales the stored [N, D] gradients by the
/// upstream gradient, so the two D x D matrices never live through the backbone's backward.
/// Every step is a backend kernel (GEMM, column sums, broadcasts, elementwise), so it runs on any backend.
/// </summary>
public sealed class VicregLoss(double simCoeff = 25, double stdCoeff = 25, double covCoeff = 1)
{
    public const double Epsilon = 1e-4;

    public double SimCoeff { get; } = simCoeff;
    public double StdCoeff { get; } = stdCoeff;
    public double CovCoeff { get; } = covCoeff;

    /// <summary>The weighted loss (records a tape node when an input needs a gradient) and the unweighted terms.
    /// With a communicator of several ranks, z_a and z_b are this rank's rows: as the official code, the
    /// invariance is this rank's, while the variance and covariance see every rank's rows, gathered by
    /// <see cref="Ops.AllGather"/> (whose backward sums the ranks' gradients). Averaging the parameters'
    /// gradients over the ranks then gives exactly the gradient of the one-process loss on the whole batch.
    /// The returned terms are the whole batch's: the invariance is averaged over the ranks for reporting.</summary>
    public VicregLossOutput Forward(Tensor za, Tensor zb, ICommunicator? communicator = null)
    {
        var (_, d) = Check(za, zb);
        bool distributed = communicator is { Size: > 1 };
        var wholeA = distributed ? Ops.AllGather(za, communicator!) : za;
        var wholeB = distributed ? Ops.AllGather(zb, communicator!) : zb;
        int n = wholeA.Shape[0];
        var terms = Tensor.Empty(new Shape(3), za.DType, za.Backend);
        bool needsGrad = Tape.NeedsGrad(za, zb);
        Tensor? ga = null, gb = null, wholeGa = null, wholeGb = null;
        if (needsGrad)
        {
            ga = Tensor.Empty(za.Shape, za.DType, za.Backend);
            gb = Tensor.Empty(zb.Shape, zb.DType, zb.Backend);
            wholeGa = distributed ? Tensor.Zeros(wholeA.Shape, za.DType, za.Backend) : ga;
            wholeGb = distributed ? Tensor.Zeros(wholeB.Shape, zb.DType, zb.Backend) : gb;
        }
        var be = za.Backend;
        using var invarianceTerm = terms.NarrowView(0, 1);
        using var varianceTerm = terms.NarrowView(1, 1);
        using var covarianceTerm = terms.NarrowView(2, 1);
        Invariance(za, zb, invarianceTerm, ga, gb, SimCoeff);
        be.Fill(varianceTerm, 0);
        be.Fill(covarianceTerm, 0);
        Branch(wholeA, n, d, varianceTerm, covarianceTerm, wholeGa, StdCoeff, CovCoeff);
        Branch(wholeB, n, d, varianceTerm, covarianceTerm, wholeGb, StdCoeff, CovCoeff);

        var loss = Tensor.Empty(new Shape(), za.DType, be);
        be.Unary(UnaryOp.Scale, invarianceTerm, loss, SimCoeff);
        be.Axpy(StdCoeff, varianceTerm, loss);
        be.Axpy(CovCoeff, covarianceTerm, loss);
        if (distributed)
        {
            // For the report only (the loss above keeps this rank's invariance): the whole batch's invariance.
            communicator!.AllReduceSum(invarianceTerm);
            be.Unary(UnaryOp.Scale, invarianceTerm, invarianceTerm, 1.0 / communicator.Size);
        }
        if (needsGrad)
        {
            var node = VicregNode.Of(za, ga!, zb, gb!);
            if (distributed) node.Add(wholeA, wholeGa!).Add(wholeB, wholeGb!);
            Tape.Record(node, loss);
        }
        return new VicregLossOutput(loss, terms);
    }

    /// <summary>The gradient of each unweighted term with respect to each branch (no tape involved).</summary>
    public static VicregTermGradients TermGradients(Tensor za, Tensor zb)
    {
        var (n, d) = Check(za, zb);
        var be = za.Backend;
        using var terms = Tensor.Empty(new Shape(3), za.DType, be);
        Tensor New() => Tensor.Empty(za.Shape, za.DType, be);
        Tensor invA = New(), invB = New(), varA = New(), varB = New(), covA = New(), covB = New();
        using var invarianceTerm = terms.NarrowView(0, 1);
        using var varianceTerm = terms.NarrowView(1, 1);
        using var covarianceTerm = terms.NarrowView(2, 1);
        Invariance(za, zb, invarianceTerm, invA, invB, 1);
        be.Fill(varianceTerm, 0);
        be.Fill(covarianceTerm, 0);
        foreach (var g in (ReadOnlySpan<Tensor>)[varA, varB, covA, covB]) be.Fill(g, 0);
        // Each branch runs twice (variance gradient, then covariance gradient): a command, not a training step.
        Branch(za, n, d, varianceTerm, covarianceTerm, varA, 1, 0);
        Branch(zb, n, d, varianceTerm, covarianceTerm, varB, 1, 0);
        Branch(za, n, d, null, null, covA, 0, 1);
        Branch(zb, n, d, null, null, covB, 0, 1);
        return new VicregTermGradients(VicregTerms.Read(terms), invA, varA, covA, invB, varB, covB);
    }

    private static (int N, int D) Check(Tensor za, Tensor zb)
    {
        const string op = "vicreg_loss";
        if (!ReferenceEquals(za.Backend, zb.Backend)) throw new ShapeMismatchException($"{op}: z_a and z_b live on different backends");
        ShapeMismatchException.SameDType(op, za, zb);
        ShapeMismatchException.Require(za.Rank == 2 && za.Shape == zb.Shape, op, "z_a and z_b must both be [N, D]", za, zb);
        if (za.DType == DType.Int32) throw new ShapeMismatchException($"{op}: needs floating-point embeddings");
        if (za.Shape[0] < 2) throw new ShapeMismatchException($"{op}: needs at least 2 samples for the variance (got {za.Shape})");
        if (za.Shape[1] < 1) throw new ShapeMismatchException($"{op}: needs at least 1 dimension (got {za.Shape})");
        return (za.Shape[0], za.Shape[1]);
    }

    /// <summary>term = mean((za - zb)^2); when asked, ga = weight · 2 (za - zb)/(N D) and gb = -ga (overwritten).</summary>
    private static void Invariance(Tensor za, Tensor zb, Tensor term, Tensor? ga, Tensor? gb, double weight)
    {
        var be = za.Backend;
        double count = za.Numel;
        using var diff = Tensor.Empty(za.Shape, za.DType, be);
        be.Binary(BinaryOp.Sub, za, zb, diff);
        be.SumOfSquares(diff, term);
        be.Unary(UnaryOp.Scale, term, term, 1 / count);
        if (ga is null || gb is null) return;
        be.Unary(UnaryOp.Scale, diff, ga, weight * 2 / count);
        be.Unary(UnaryOp.Scale, diff, gb, -weight * 2 / count);
    }

    /// <summary>
    /// One branch: adds its variance term into <paramref name="varianceTerm"/> and its covariance term into
    /// <paramref name="covarianceTerm"/> (one-element tensors; either may be null), and adds
    /// wVar · d variance/dz + wCov · d covariance/dz into <paramref name="grad"/>.
    /// </summary>
    private static void Branch(Tensor z, int n, int d, Tensor? varianceTerm, Tensor? covarianceTerm, Tensor? grad, double wVar, double wCov)
    {
        var be = z.Backend;
        var dtype = z.DType;
        Tensor Vec() => Tensor.Empty(new Shape(d), dtype, be);
        using var mean = Vec();
        using var variance = Vec();
        using var std = Vec();
        using var zc = Tensor.Empty(z.Shape, dtype, be);
        using var scratch = Tensor.Empty(z.Shape, dtype, be);
        using var scalar = Tensor.Empty(new Shape(), dtype, be);

        // Centre the columns; var_j = sum_i Zc_ij^2 / (N-1); s_j = sqrt(var_j + eps).
        be.ChannelSum(z, n, d, 1, 1.0 / n, mean);
        be.AddChannelVector(z, mean, n, d, 1, -1, zc);
        be.Unary(UnaryOp.Square, zc, scratch);
        be.ChannelSum(scratch, n, d, 1, 1.0 / (n - 1), variance);
        be.Unary(UnaryOp.AddScalar, variance, std, Epsilon);
        be.Unary(UnaryOp.Sqrt, std, std);

        if (varianceTerm is not null)
        {
            // mean_j relu(1 - s_j) / 2
            using var hinge = Vec();
            be.Unary(UnaryOp.Hinge, std, hinge, 1);
            be.ReduceSum(hinge, 1, d, 1, 1.0 / (2 * d), scalar);
            be.Axpy(1, scalar, varianceTerm);
        }

        // The gradient is Zc times a per-column coefficient, plus (for the covariance) a GEMM:
        //   coefficient_j = wVar · (-[s_j < 1] / (2 D (N-1) s_j)),   + wCov · 4 / (D (N-1)) · Zc C_off
        using var coefficient = Vec();
        be.Fill(coefficient, 0);
        if (grad is not null && wVar != 0)
        {
            using var reciprocal = Vec();
            be.Unary(UnaryOp.Reciprocal, std, reciprocal);
            be.Binary(BinaryOp.HingeBackward, std, reciprocal, coefficient, 1); // -1/s_j where s_j < 1, else 0
            be.Unary(UnaryOp.Scale, coefficient, coefficient, wVar / (2.0 * d * (n - 1)));
        }
        bool covarianceGradient = grad is not null && wCov != 0;
        if (covarianceTerm is not null || covarianceGradient)
        {
            // C_off = Zc^T Zc / (N-1) with its diagonal set to zero. Zeroing it, rather than subtracting the
            // variances' squares from ||C||^2 (and Zc diag(var) from Zc C), keeps the diagonal out exactly:
            // the variances come from another kernel than the GEMM's diagonal, so the difference of the two
            // roundings would be left over, growing with the scale of z (and with D = 1 there is no
            // off-diagonal element at all: the term and its gradient are exactly 0).
            using var c = Tensor.Empty(new Shape(d, d), dtype, be);
            be.Gemm(true, false, 1.0 / (n - 1), zc, zc, 0, c);
            be.FillDiagonal(c, 0);
            if (covarianceTerm is not null)
            {
                be.SumOfSquares(c, scalar);
                be.Axpy(1.0 / d, scalar, covarianceTerm);
            }
            if (covarianceGradient) be.Gemm(false, false, wCov * 4.0 / ((double)d * (n - 1)), zc, c, 1, grad!);
        }
        if (grad is null) return;
        be.Broadcast(coefficient, 1, n, d, 1, scratch);
        be.Binary(BinaryOp.Mul, zc, scratch, scratch);
        be.Axpy(1, scratch, grad);
    }

    /// <summary>The loss is a root: its backward scales the gradients computed in the forward by the upstream
    /// gradient, for each input (the two branches, and with several ranks also their gathered whole batches).</summary>
    private sealed class VicregNode : PooledNode<VicregNode>
    {
        private readonly List<(Tensor Input, Tensor Grad)> _inputs = new(4);

        public static VicregNode Of(Tensor za, Tensor ga, Tensor zb, Tensor gb) => Rent().Add(za, ga).Add(zb, gb);

        public VicregNode Add(Tensor input, Tensor grad)
        {
            _inputs.Add((input, grad));
            return this;
        }

        protected override void Clear() => _inputs.Clear();

        public override string Name => "vicreg_loss";

        public override void Backward(Tensor dy)
        {
            var be = dy.Backend;
            foreach (var (input, grad) in _inputs)
                if (input.RequiresGrad) Tape.Accumulate(input, Scaled(be, dy, grad, checked((int)grad.Numel)));
        }

        private static Tensor Scaled(IBackend be, Tensor dy, Tensor g, int count)
        {
            // dy is a one-element tensor on the device: broadcast it rather than reading it back (no sync).
            var scaled = Tensor.EmptyLike(g);
            be.Broadcast(dy, 1, count, 1, 1, scaled);
            be.Binary(BinaryOp.Mul, scaled, g, scaled);
            return scaled;
        }

        public override void ReleaseSaved()
        {
            foreach (var (_, grad) in _inputs) grad.Dispose();
        }
    }
}
