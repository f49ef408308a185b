namespace Vicreg.Engine.Backends;

/// <summary>
/// The kernels both backends implement. Ops call these; kernels never call ops, and a backend knows
/// nothing of autograd (it reads a tensor's shape, type and data pointer, never its gradient or tape).
/// Unless a method says otherwise, outputs are overwritten, all tensors are contiguous and of one
/// element type (Float32 everywhere, Float64 on the CPU), and shapes have been checked by the op.
/// "[outer, mid, inner]" means the tensor is read as that 3-D array, whatever its own shape.
/// </summary>
public interface IBackend : IDisposable
{
    /// <summary>Short backend name for logs and device strings ("cpu", or "cuda:" and the device ordinal).</summary>
    string Name { get; }
    /// <summary>True when tensor data is ordinary host memory (the CPU backend).</summary>
    bool IsHostMemory { get; }
    /// <summary>Whether tensors of <paramref name="dtype"/> can live on this backend (CUDA: Float32 and Int32; the CPU: every type).</summary>
    bool Supports(DType dtype);

    // ---- memory -------------------------------------------------------------------------------
    /// <summary>A buffer of at least <paramref name="bytes"/> from the caching allocator.</summary>
    nint Allocate(long bytes);
    /// <summary>Returns a buffer to the cache (not to the OS).</summary>
    void Free(nint pointer, long bytes);
    /// <summary>The caching allocator's counters (bytes in use and cached, system allocations, cache hits).</summary>
    AllocatorStatistics MemoryStatistics { get; }
    /// <summary>Copies raw host bytes into the tensor; their length must equal the tensor's byte size.</summary>
    void CopyFromHost(ReadOnlySpan<byte> source, Tensor destination);
    /// <summary>Copies the tensor's bytes to host memory; the span must be exactly the tensor's byte size.</summary>
    void CopyToHost(Tensor source, Span<byte> destination);
    /// <summary>destination[dstOffset + i] = source[srcOffset + i] for i &lt; count (in elements).</summary>
    void Copy(Tensor source, long sourceOffset, Tensor destination, long destinationOffset, long count);
    /// <summary>Sets every element to <paramref name="value"/> (converted to the tensor's element type).</summary>
    void Fill(Tensor tensor, double value);
    /// <summary>matrix[i, i] = value for a square [d, d] matrix, every other element untouched: an exact
    /// off-diagonal part (a covariance with its diagonal taken out), with no cancellation.</summary>
    void FillDiagonal(Tensor matrix, double value);
    /// <summary>Waits until all queued work has finished (no-op on the CPU).</summary>
    void Synchronize();

    // ---- dense linear algebra -----------------------------------------------------------------
    /// <summary>c = alpha * op(a) * op(b) + beta * c with row-major 2-D operands; op transposes when asked.
    /// a is [m, k] (or [k, m] when transposed), b is [k, n] (or [n, k]), c is [m, n].</summary>
    void Gemm(bool transposeA, bool transposeB, double alpha, Tensor a, Tensor b, double beta, Tensor c);

    // ---- convolution (no bias: bias is AddChannelVector / ChannelSum) --------------------------
    /// <summary>y = x ⋆ weight: x is NCHW <see cref="Conv2dGeometry.InputShape"/>, weight OIHW, y <see cref="Conv2dGeometry.OutputShape"/>.</summary>
    void Conv2dForward(in Conv2dGeometry g, Tensor x, Tensor weight, Tensor y);
    /// <summary>dx (input-shaped) from dy (output-shaped) and the weights: the transposed convolution.</summary>
    void Conv2dBackwardData(in Conv2dGeometry g, Tensor dy, Tensor weight, Tensor dx);
    /// <summary>dweight (OIHW) from the forward input x and dy, overwritten (not accumulated).</summary>
    void Conv2dBackwardFilter(in Conv2dGeometry g, Tensor x, Tensor dy, Tensor dweight);

    // ---- batch normalization over x read as [outer=N, channels=C, inner=H*W] ---------------------
    /// <summary>Normalizes with the batch statistics (biased variance), writes the per-channel mean and
    /// 1/sqrt(var+eps) for the backward, and, when running statistics are given, updates them as PyTorch:
    /// running = (1-momentum) running + momentum * batch, with the unbiased variance.</summary>
    void BatchNormTraining(Tensor x, Tensor? gamma, Tensor? beta, Tensor? runningMean, Tensor? runningVar,
        double momentum, double eps, Tensor y, Tensor saveMean, Tensor saveInvStd);
    /// <summary>y = gamma (x - runningMean) / sqrt(runningVar + eps) + beta per channel; a missing gamma is 1, a missing beta 0.</summary>
    void BatchNormInference(Tensor x, Tensor? gamma, Tensor? beta, Tensor runningMean, Tensor runningVar, double eps, Tensor y);
    /// <summary>dx from the saved statistics; dgamma and dbeta are overwritten when given.</summary>
    void BatchNormBackward(Tensor x, Tensor dy, Tensor? gamma, Tensor saveMean, Tensor saveInvStd,
        Tensor dx, Tensor? dgamma, Tensor? dbeta);
    /// <summary><see cref="BatchNormTraining"/> followed by ReLU: y = max(0, normalized x), written in the same pass,
    /// so the values before the ReLU are never stored.</summary>
    void BatchNormReluTraining(Tensor x, Tensor? gamma, Tensor? beta, Tensor? runningMean, Tensor? runningVar,
        double momentum, double eps, Tensor y, Tensor saveMean, Tensor saveInvStd);
    /// <summary>The backward of <see cref="BatchNormReluTraining"/>: <see cref="BatchNormBackward"/> of dy where its output
    /// y &gt; 0 and of 0 elsewhere, without storing that masked gradient; dgamma and dbeta are overwritten when given.</summary>
    void BatchNormReluBackward(Tensor x, Tensor y, Tensor dy, Tensor? gamma, Tensor saveMean, Tensor saveInvStd,
        Tensor dx, Tensor? dgamma, Tensor? dbeta);

    // ---- pooling ------------------------------------------------------------------------------
    /// <summary>Max pooling; argmax (Int32, shape of y) records the flat input index within each plane.</summary>
    void MaxPool2dForward(in Pool2dGeometry g, Tensor x, Tensor y, Tensor argmax);
    /// <summary>dx = 0, then each dy element is added at the input position its argmax recorded (overlapping windows accumulate).</summary>
    void MaxPool2dBackward(in Pool2dGeometry g, Tensor dy, Tensor argmax, Tensor dx);

    // ---- elementwise, broadcasting and reductions ---------------------------------------------
    /// <summary>y = op(x, alpha) elementwise over equal element counts.</summary>
    void Unary(UnaryOp op, Tensor x, Tensor y, double alpha = 0);
    /// <summary>y = op(a, b, alpha) elementwise over equal element counts (no broadcasting).</summary>
    void Binary(BinaryOp op, Tensor a, Tensor b, Tensor y, double alpha = 0);
    /// <summary>y += alpha * x (gradient accumulation).</summary>
    void Axpy(double alpha, Tensor x, Tensor y);
    /// <summary>y[o,c,i] = x[o,c,i] + alpha * v[c]: bias addition, centring by a column mean.</summary>
    void AddChannelVector(Tensor x, Tensor v, int outer, int channels, int inner, double alpha, Tensor y);
    /// <summary>y[c] = alpha * sum over o,i of x[o,c,i]: bias gradients, column sums.</summary>
    void ChannelSum(Tensor x, int outer, int channels, int inner, double alpha, Tensor y);
    /// <summary>y[o,i] = alpha * sum over m of x[o,m,i]: a sum along one axis.</summary>
    void ReduceSum(Tensor x, int outer, int mid, int inner, double alpha, Tensor y);
    /// <summary>y[o,m,i] = alpha * x[o,i]: the backward of <see cref="ReduceSum"/>.</summary>
    void Broadcast(Tensor x, int outer, int mid, int inner, double alpha, Tensor y);
    /// <summary>Sum of squares of all elements, written to the one-element tensor result.</summary>
    void SumOfSquares(Tensor x, Tensor result);

    // ---- losses ---------------------------------------------------------------------------------
    /// <summary>Row-wise log-softmax cross-entropy of logits [n, k] against Int32 labels [n]: writes the
    /// softmax probabilities and the mean loss (one element).</summary>
    void SoftmaxCrossEntropy(Tensor logits, Tensor labels, Tensor probabilities, Tensor meanLoss);
    /// <summary>dlogits = scale * (probabilities - onehot(labels)).</summary>
    void SoftmaxCrossEntropyBackward(Tensor probabilities, Tensor labels, double scale, Tensor dlogits);

    // ---- optimizer updates (fused, in place) ---------------------------------------------------
    /// <summary>SGD with momentum: g' = g + wd w; m = momentum m + g'; w -= lr m.</summary>
    void SgdUpdate(Tensor weight, Tensor grad, Tensor momentumBuffer, double lr, double weightDecay, double momentum);
    /// <summary>LARS as the official VICReg code: when <paramref name="adapt"/>, g' = g + wd w and
    /// g' *= eta ||w|| / ||g'|| (when both norms are positive); then m = momentum m + g'; w -= lr m.</summary>
    void LarsUpdate(Tensor weight, Tensor grad, Tensor momentumBuffer, double lr, double weightDecay, double momentum, double eta, bool adapt);
}

/// <summary>What a caching allocator holds: bytes handed out now, bytes parked in the cache, and how
/// often it had to ask the system (a steady training step should leave that count unchanged).</summary>
public readonly record struct AllocatorStatistics(long BytesInUse, long BytesCached, long SystemAllocations, long CacheHits);
