namespace Vicreg.Engine.Backends;

/// <summary>
/// The argument contract of every <see cref="IBackend"/> kernel, checked in one place that every backend calls
/// first: element types, ranks and the element count of every tensor a kernel reads or writes, so a short output
/// buffer is one <see cref="ShapeMismatchException"/> naming the kernel and the tensor on any backend, never a write
/// past the end of a host or device buffer. Each check is O(1) (it reads shapes, never data). What only a backend
/// knows stays in the backend: the element types it holds (CUDA: float32), which device owns a tensor, and checks
/// that must read data (labels in range, argmax inside its plane).
/// </summary>
public static class KernelChecks
{
    // ---- copies ---------------------------------------------------------------------------------------------
    /// <summary>The host span must hold exactly the tensor's bytes; otherwise throws <see cref="ShapeMismatchException"/>.</summary>
    public static void CopyFromHost(int sourceBytes, Tensor destination)
    {
        if (sourceBytes != destination.Bytes)
            throw new ShapeMismatchException($"CopyFromHost: {sourceBytes} bytes into a tensor of {destination.Bytes} ({destination.Shape})");
    }

    /// <summary>The host span must be exactly the tensor's byte size; otherwise throws <see cref="ShapeMismatchException"/>.</summary>
    public static void CopyToHost(Tensor source, int destinationBytes)
    {
        if (destinationBytes != source.Bytes)
            throw new ShapeMismatchException($"CopyToHost: a tensor of {source.Bytes} bytes ({source.Shape}) into {destinationBytes}");
    }

    /// <summary>One element type, and both element ranges (offsets and count in elements) inside their tensors.</summary>
    public static void Copy(Tensor source, long sourceOffset, Tensor destination, long destinationOffset, long count)
    {
        const string name = "Copy";
        SameType(name, source, destination);
        if (count < 0 || sourceOffset < 0 || destinationOffset < 0
            || sourceOffset > source.Numel - count || destinationOffset > destination.Numel - count)
            throw new ShapeMismatchException($"{name}: {count} elements from offset {sourceOffset} of {source.Shape} to offset "
                + $"{destinationOffset} of {destination.Shape} reach outside a tensor");
    }

    /// <summary>A square 2-D matrix.</summary>
    public static void FillDiagonal(Tensor matrix)
        => ShapeMismatchException.Require(matrix.Rank == 2 && matrix.Shape[0] == matrix.Shape[1], nameof(FillDiagonal), "needs a square matrix", matrix);

    // ---- dense linear algebra -------------------------------------------------------------------------------
    /// <summary>Returns (m, n, k) of c[m, n] = op(a)[m, k] op(b)[k, n].</summary>
    public static (int M, int N, int K) Gemm(bool transposeA, bool transposeB, Tensor a, Tensor b, Tensor c)
    {
        const string name = "Gemm";
        if (a.Rank != 2 || b.Rank != 2 || c.Rank != 2)
            throw new ShapeMismatchException($"{name}: operands must be 2-D, got {a.Shape}, {b.Shape}, {c.Shape}");
        Floating(name, c);
        SameType(name, a, c);
        SameType(name, b, c);
        int m = c.Shape[0], n = c.Shape[1];
        int k = transposeA ? a.Shape[0] : a.Shape[1];
        int am = transposeA ? a.Shape[1] : a.Shape[0];
        int bk = transposeB ? b.Shape[1] : b.Shape[0];
        int bn = transposeB ? b.Shape[0] : b.Shape[1];
        if (am != m || bn != n || bk != k)
            throw new ShapeMismatchException($"{name}: op(a) {(transposeA ? "T" : "")}{a.Shape} times op(b) {(transposeB ? "T" : "")}{b.Shape} does not make c {c.Shape}");
        return (m, n, k);
    }

    // ---- convolution ----------------------------------------------------------------------------------------
    /// <summary>Element counts and types must match the geometry (input is x or dx, output y or dy).</summary>
    public static void Convolution(string name, in Conv2dGeometry g, Tensor input, Tensor weight, Tensor output)
    {
        if (input.DType != weight.DType || output.DType != weight.DType || weight.DType is not (DType.Float32 or DType.Float64))
            throw new ShapeMismatchException($"{name}: float32 or float64 tensors of one type, got {input.DType.Name()}, {weight.DType.Name()}, {output.DType.Name()}");
        if (g.StrideHeight <= 0 || g.StrideWidth <= 0 || g.OutHeight <= 0 || g.OutWidth <= 0)
            throw new ShapeMismatchException($"{name}: geometry {g} has no output");
        Count(name, "input", input, g.InputShape.Numel);
        Count(name, "weight", weight, g.WeightShape.Numel);
        Count(name, "output", output, g.OutputShape.Numel);
    }

    // ---- batch normalization --------------------------------------------------------------------------------
    /// <summary>The [N, C, inner] reading of a batch-norm input: rank 2 (N, C) or more (N, C, H, W...).</summary>
    public static (int N, int C, int Inner) BatchNormLayout(string name, Tensor x)
    {
        Floating(name, x);
        if (x.Rank < 2) throw new ShapeMismatchException($"{name}: x must be (N, C) or (N, C, ...), got {x.Shape}");
        return (x.Shape[0], x.Shape[1], x.Rank == 2 ? 1 : x.Shape.Product(2, x.Rank));
    }

    /// <summary>Checks x/y and every per-channel vector (C elements, x's type), and that the running statistics come both or neither
    /// (<see cref="ArgumentException"/>); returns the [N, C, inner] layout.</summary>
    public static (int N, int C, int Inner) BatchNormTraining(Tensor x, Tensor? gamma, Tensor? beta, Tensor? runningMean, Tensor? runningVar,
        Tensor y, Tensor saveMean, Tensor saveInvStd)
        => Training("BatchNormTraining", x, gamma, beta, runningMean, runningVar, y, saveMean, saveInvStd);

    /// <summary>The checks of <see cref="BatchNormTraining"/>, under this kernel's name.</summary>
    public static (int N, int C, int Inner) BatchNormReluTraining(Tensor x, Tensor? gamma, Tensor? beta, Tensor? runningMean, Tensor? runningVar,
        Tensor y, Tensor saveMean, Tensor saveInvStd)
        => Training("BatchNormReluTraining", x, gamma, beta, runningMean, runningVar, y, saveMean, saveInvStd);

    private static (int N, int C, int Inner) Training(string name, Tensor x, Tensor? gamma, Tensor? beta, Tensor? runningMean, Tensor? runningVar,
        Tensor y, Tensor saveMean, Tensor saveInvStd)
    {
        var layout = Normalize(name, x, y, gamma, beta, runningMean, runningVar);
        ChannelVector(name, "saveMean", saveMean, x, layout.C);
        ChannelVector(name, "saveInvStd", saveInvStd, x, layout.C);
        if ((runningMean is null) != (runningVar is null))
            throw new ArgumentException($"{name}: give both running statistics or neither");
        return layout;
    }

    /// <summary>Checks x/y and the per-channel vectors; returns the [N, C, inner] layout.</summary>
    public static (int N, int C, int Inner) BatchNormInference(Tensor x, Tensor? gamma, Tensor? beta, Tensor runningMean, Tensor runningVar, Tensor y)
        => Normalize("BatchNormInference", x, y, gamma, beta, runningMean, runningVar);

    /// <summary>Checks dy and dx against x and every per-channel vector (the optional ones when given); returns the [N, C, inner] layout.</summary>
    public static (int N, int C, int Inner) BatchNormBackward(Tensor x, Tensor dy, Tensor? gamma, Tensor saveMean, Tensor saveInvStd,
        Tensor dx, Tensor? dgamma, Tensor? dbeta)
        => Backward("BatchNormBackward", x, dy, gamma, saveMean, saveInvStd, dx, dgamma, dbeta);

    private static (int N, int C, int Inner) Backward(string name, Tensor x, Tensor dy, Tensor? gamma, Tensor saveMean, Tensor saveInvStd,
        Tensor dx, Tensor? dgamma, Tensor? dbeta)
    {
        var layout = BatchNormLayout(name, x);
        SameType(name, x, dy);
        SameType(name, x, dx);
        Count(name, "dy", dy, x.Numel);
        Count(name, "dx", dx, x.Numel);
        ChannelVector(name, "gamma", gamma, x, layout.C);
        ChannelVector(name, "saveMean", saveMean, x, layout.C);
        ChannelVector(name, "saveInvStd", saveInvStd, x, layout.C);
        ChannelVector(name, "dgamma", dgamma, x, layout.C);
        ChannelVector(name, "dbeta", dbeta, x, layout.C);
        return layout;
    }

    /// <summary>The checks of <see cref="BatchNormBackward"/>, and y (the forward's output, whose sign masks dy) shaped and typed as x.</summary>
    public static (int N, int C, int Inner) BatchNormReluBackward(Tensor x, Tensor y, Tensor dy, Tensor? gamma, Tensor saveMean, Tensor saveInvStd,
        Tensor dx, Tensor? dgamma, Tensor? dbeta)
    {
        const string name = "BatchNormReluBackward";
        var layout = Backward(name, x, dy, gamma, saveMean, saveInvStd, dx, dgamma, dbeta);
        SameType(name, x, y);
        Count(name, "y", y, x.Numel);
        return layout;
    }

    /// <summary>What the training and inference kernels share: y = normalize(x), and the optional per-channel vectors.</summary>
    private static (int N, int C, int Inner) Normalize(string name, Tensor x, Tensor y, Tensor? gamma, Tensor? beta, Tensor? runningMean, Tensor? runningVar)
    {
        var layout = BatchNormLayout(name, x);
        SameType(name, x, y);
        Count(name, "y", y, x.Numel);
        ChannelVector(name, "gamma", gamma, x, layout.C);
        ChannelVector(name, "beta", beta, x, layout.C);
        ChannelVector(name, "runningMean", runningMean, x, layout.C);
        ChannelVector(name, "runningVar", runningVar, x, layout.C);
        return layout;
    }

    private static void ChannelVector(string name, string what, Tensor? v, Tensor x, int channels)
    {
        if (v is null) return;
        SameType(name, x, v);
        Count(name, what, v, channels);
    }

    // ---- pooling --------------------------------------------------------------------------------------------
    /// <summary>A valid geometry (padding at most half the kernel), x and y floating of one type, argmax Int32 of y's size.</summary>
    public static void MaxPool2dForward(in Pool2dGeometry g, Tensor x, Tensor y, Tensor argmax)
        => MaxPool("MaxPool2dForward", g, x, y, "x", x, "y", y, argmax);

    /// <summary>A valid geometry, dy and dx floating of one type, argmax Int32 of dy's size (indices are checked by the backend).</summary>
    public static void MaxPool2dBackward(in Pool2dGeometry g, Tensor dy, Tensor argmax, Tensor dx)
        => MaxPool("MaxPool2dBackward", g, dy, dx, "dx", dx, "dy", dy, argmax);

    /// <summary>The geometry; <paramref name="typed"/> floating and of <paramref name="sameType"/>'s type; an int32
    /// argmax; the element counts of the input-sized tensor, the output-sized one and argmax.</summary>
    private static void MaxPool(string name, in Pool2dGeometry g, Tensor typed, Tensor sameType,
        string inputName, Tensor input, string outputName, Tensor output, Tensor argmax)
    {
        if (g.Batch < 0 || g.Channels < 0 || g.InHeight < 1 || g.InWidth < 1 || g.KernelHeight < 1 || g.KernelWidth < 1
            || g.StrideHeight < 1 || g.StrideWidth < 1 || g.PadHeight < 0 || g.PadWidth < 0
            || g.PadHeight * 2 > g.KernelHeight || g.PadWidth * 2 > g.KernelWidth || g.OutHeight < 1 || g.OutWidth < 1)
            throw new ShapeMismatchException($"{name}: invalid pooling geometry {g}");
        Floating(name, typed);
        SameType(name, typed, sameType);
        Int32(name, "argmax", argmax);
        Count(name, inputName, input, g.InputShape.Numel);
        Count(name, outputName, output, g.OutputShape.Numel);
        Count(name, "argmax", argmax, g.OutputShape.Numel);
    }

    // ---- elementwise, broadcasting and reductions -----------------------------------------------------------
    /// <summary>x and y floating, of one type and element count.</summary>
    public static void Unary(Tensor x, Tensor y) => SameFloating("Unary", x, y);

    /// <summary>a, b and y floating, of one type and element count.</summary>
    public static void Binary(Tensor a, Tensor b, Tensor y)
    {
        SameFloating("Binary", a, b);
        SameFloating("Binary", a, y);
    }

    /// <summary>x and y floating, of one type and element count.</summary>
    public static void Axpy(Tensor x, Tensor y) => SameFloating("Axpy", x, y);

    /// <summary>x and y hold outer*channels*inner elements, v holds channels, all of one floating type.</summary>
    public static void AddChannelVector(Tensor x, Tensor v, int outer, int channels, int inner, Tensor y)
    {
        const string name = "AddChannelVector";
        Floating(name, x);
        SameType(name, x, v);
        SameType(name, x, y);
        NonNegative(name, outer, channels, inner);
        long n = (long)outer * channels * inner;
        Count(name, "x", x, n);
        Count(name, "y", y, n);
        Count(name, "v", v, channels);
    }

    /// <summary>x holds outer*channels*inner elements, y holds channels, of one floating type.</summary>
    public static void ChannelSum(Tensor x, int outer, int channels, int inner, Tensor y)
        => AxisSum("ChannelSum", x, outer, channels, inner, y, channels);

    /// <summary>x holds outer*mid*inner elements, y holds outer*inner, of one floating type.</summary>
    public static void ReduceSum(Tensor x, int outer, int mid, int inner, Tensor y)
        => AxisSum("ReduceSum", x, outer, mid, inner, y, (long)outer * inner);

    /// <summary>x read as [outer, mid, inner] and y of the same floating type with <paramref name="outputs"/> elements.</summary>
    private static void AxisSum(string name, Tensor x, int outer, int mid, int inner, Tensor y, long outputs)
    {
        Floating(name, x);
        SameType(name, x, y);
        NonNegative(name, outer, mid, inner);
        Count(name, "x", x, (long)outer * mid * inner);
        Count(name, "y", y, outputs);
    }

    /// <summary>x holds outer*inner elements, y holds outer*mid*inner, of one floating type.</summary>
    public static void Broadcast(Tensor x, int outer, int mid, int inner, Tensor y)
    {
        const string name = "Broadcast";
        Floating(name, x);
        SameType(name, x, y);
        NonNegative(name, outer, mid, inner);
        Count(name, "x", x, (long)outer * inner);
        Count(name, "y", y, (long)outer * mid * inner);
    }

    /// <summary>x floating, result one element of x's type.</summary>
    public static void SumOfSquares(Tensor x, Tensor result)
    {
        const string name = "SumOfSquares";
        Floating(name, x);
        SameType(name, x, result);
        Count(name, "result", result, 1);
    }

    // ---- losses ---------------------------------------------------------------------------------------------
    /// <summary>Returns (rows, classes) of logits [n, k].</summary>
    public static (int Rows, int Classes) SoftmaxCrossEntropy(Tensor logits, Tensor labels, Tensor probabilities, Tensor meanLoss)
    {
        const string name = "SoftmaxCrossEntropy";
        var layout = CrossEntropy(name, logits, labels, probabilities);
        SameType(name, logits, meanLoss);
        Count(name, "meanLoss", meanLoss, 1);
        return layout;
    }

    /// <summary>probabilities [n, k] and dlogits floating of one type and size, labels Int32 [n]; returns (n, k).</summary>
    public static (int Rows, int Classes) SoftmaxCrossEntropyBackward(Tensor probabilities, Tensor labels, Tensor dlogits)
        => CrossEntropy("SoftmaxCrossEntropyBackward", probabilities, labels, dlogits);

    private static (int Rows, int Classes) CrossEntropy(string name, Tensor logits, Tensor labels, Tensor output)
    {
        Floating(name, logits);
        SameType(name, logits, output);
        Int32(name, "labels", labels);
        if (logits.Rank != 2) throw new ShapeMismatchException($"{name}: logits must be [n, k], got {logits.Shape}");
        Count(name, "output", output, logits.Numel);
        Count(name, "labels", labels, logits.Shape[0]);
        return (logits.Shape[0], logits.Shape[1]);
    }

    // ---- optimizer updates ----------------------------------------------------------------------------------
    /// <summary>weight, grad and the momentum buffer floating, of one type and element count.</summary>
    public static void SgdUpdate(Tensor weight, Tensor grad, Tensor momentumBuffer) => Optimizer("SgdUpdate", weight, grad, momentumBuffer);

    /// <summary>weight, grad and the momentum buffer floating, of one type and element count.</summary>
    public static void LarsUpdate(Tensor weight, Tensor grad, Tensor momentumBuffer) => Optimizer("LarsUpdate", weight, grad, momentumBuffer);

    private static void Optimizer(string name, Tensor weight, Tensor grad, Tensor momentumBuffer)
    {
        SameFloating(name, weight, grad);
        SameFloating(name, weight, momentumBuffer);
    }

    // ---- the pieces -----------------------------------------------------------------------------------------
    /// <summary>Float32 or Float64.</summary>
    public static void Floating(string op, Tensor a)
    {
        if (a.DType is not (DType.Float32 or DType.Float64))
            throw new ShapeMismatchException($"{op}: needs float32 or float64, got {a.DType.Name()} {a.Shape}");
    }

    /// <summary>a and b of one element type, else a <see cref="ShapeMismatchException"/> naming <paramref name="op"/>.</summary>
    public static void SameType(string op, Tensor a, Tensor b) => ShapeMismatchException.SameDType(op, a, b);

    /// <summary><paramref name="t"/> (called <paramref name="what"/> in the message) must be Int32.</summary>
    public static void Int32(string op, string what, Tensor t)
    {
        if (t.DType != DType.Int32)
            throw new ShapeMismatchException($"{op}: {what} must be int32, got {t.DType.Name()} {t.Shape}");
    }

    /// <summary><paramref name="t"/> must hold exactly <paramref name="expected"/> elements (its shape is not checked, only its size).</summary>
    public static void Count(string op, string what, Tensor t, long expected)
    {
        if (t.Numel != expected)
            throw new ShapeMismatchException($"{op}: {what} needs {expected} elements, got {t.Numel} (shape {t.Shape})");
    }

    /// <summary>b floating, of a's type and element count (the elementwise kernels' contract).</summary>
    private static void SameFloating(string op, Tensor a, Tensor b)
    {
        Floating(op, a);
        SameType(op, a, b);
        if (a.Numel != b.Numel)
            throw new ShapeMismatchException($"{op}: element counts differ ({a.Numel} in {a.Shape} and {b.Numel} in {b.Shape})");
    }

    private static void NonNegative(string op, int outer, int mid, int inner)
    {
        if (outer < 0 || mid < 0 || inner < 0)
            throw new ShapeMismatchException($"{op}: negative extent [{outer}, {mid}, {inner}]");
    }
}
