using System.Numerics;
using System.Runtime.Intrinsics;
using Vicreg.Engine.Backends.Cpu.Kernels;

namespace Vicreg.Engine.Backends.Cpu;

// Softmax cross-entropy, one row per task: log-sum-exp shifted by the row maximum (stable for any
// logits), the row sums in double; the mean loss adds per-block partials in block order.
public sealed unsafe partial class CpuBackend
{
    /// <summary>Labels must index a class: they are read on the host, so this check is the CPU's own (the shapes
    /// are <see cref="KernelChecks"/>').</summary>
    private static void CheckLabels(string name, Tensor labels, int rows, int classes)
    {
        // Checked here, on the calling thread, so a bad label is a clear ArgumentException (not a worker's
        // AggregateException) and no kernel ever indexes outside a row.
        int* l = Ptr<int>(labels);
        for (int r = 0; r < rows; r++)
            if ((uint)l[r] >= (uint)classes)
                throw new ArgumentException($"{name}: label {l[r]} in row {r} is outside [0, {classes})");
    }

    /// <inheritdoc/>
    public void SoftmaxCrossEntropy(Tensor logits, Tensor labels, Tensor probabilities, Tensor meanLoss)
    {
        const string name = "SoftmaxCrossEntropy";
        var (rows, classes) = KernelChecks.SoftmaxCrossEntropy(logits, labels, probabilities, meanLoss);
        CheckLabels(name, labels, rows, classes);
        if (logits.DType == DType.Float32)
            *Ptr<float>(meanLoss) = (float)SoftmaxCrossEntropy(Ptr<float>(logits), Ptr<int>(labels), Ptr<float>(probabilities), rows, classes);
        else
            *Ptr<double>(meanLoss) = SoftmaxCrossEntropy(Ptr<double>(logits), Ptr<int>(labels), Ptr<double>(probabilities), rows, classes);
    }

    private static double SoftmaxCrossEntropy<T>(T* logits, int* labels, T* probabilities, int rows, int classes) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (rows == 0) return double.NaN; // the mean of nothing, as PyTorch
        // Row blocks fixed by the shape alone, so the mean has the same bits whatever the thread count.
        int chunks = (long)rows * classes < VectorMath.ParallelThreshold ? 1 : Math.Min(rows, VectorMath.ReductionBlocks((long)rows * classes));
        double* partials = stackalloc double[chunks];
        var body = new SoftmaxCrossEntropyBody<T> { Logits = logits, Labels = labels, Probabilities = probabilities, Rows = rows, Classes = classes, Chunks = chunks, Partials = partials };
        if (chunks == 1) body.Run(0, 1);
        else CpuParallel.For(chunks, ref body);
        double total = 0;
        for (int c = 0; c < chunks; c++) total += partials[c];
        return total / rows;
    }

    private struct SoftmaxCrossEntropyBody<T> : IRangeBody where T : unmanaged, IFloatingPointIeee754<T>
    {
        public T* Logits, Probabilities;
        public int* Labels;
        public int Rows, Classes, Chunks;
        public double* Partials;

        public void Run(int start, int end)
        {
            for (int chunk = start; chunk < end; chunk++)
            {
                double loss = 0;
                int r0 = CpuParallel.ChunkStart(chunk, Rows, Chunks), r1 = CpuParallel.ChunkEnd(chunk, Rows, Chunks);
                for (int r = r0; r < r1; r++) loss += Row(Logits + (long)r * Classes, Probabilities + (long)r * Classes, Labels[r]);
                Partials[chunk] = loss;
            }
        }

        /// <summary>Writes the row's softmax and returns its loss, log(sum exp(x - max)) + max - x[label].</summary>
        private readonly double Row(T* x, T* p, int label)
        {
            int k = Classes, w = Vector256<T>.Count, i = 0;
            double target = VectorMath.ToDouble(x[label]); // read first: p may be x (in place)
            T max = T.NegativeInfinity;
            if (k >= w)
            {
                var vmax = Vector256.Create(T.NegativeInfinity);
                for (; i + w <= k; i += w) vmax = Vector256.Max(vmax, Vector256.Load(x + i));
                for (int l = 0; l < w; l++) max = T.Max(max, vmax.GetElement(l));
            }
            for (; i < k; i++) max = T.Max(max, x[i]);
            // exp(x - max) into p, summed in double.
            Elementwise.UnaryRange(x, p, 0, k, new AddScalarOp<T>(-max));
            Elementwise.UnaryRange(p, p, 0, k, new ExpOp<T>());
            double sum = VectorMath.Sum(p, k);
            Elementwise.UnaryRange(p, p, 0, k, new ScaleOp<T>(VectorMath.FromDouble<T>(1.0 / sum)));
            return Math.Log(sum) + VectorMath.ToDouble(max) - target;
        }
    }

    /// <inheritdoc/>
    public void SoftmaxCrossEntropyBackward(Tensor probabilities, Tensor labels, double scale, Tensor dlogits)
    {
        const string name = "SoftmaxCrossEntropyBackward";
        var (rows, classes) = KernelChecks.SoftmaxCrossEntropyBackward(probabilities, labels, dlogits);
        CheckLabels(name, labels, rows, classes);
        if (probabilities.DType == DType.Float32) CrossEntropyBackward(Ptr<float>(probabilities), Ptr<int>(labels), (float)scale, Ptr<float>(dlogits), rows, classes);
        else CrossEntropyBackward(Ptr<double>(probabilities), Ptr<int>(labels), scale, Ptr<double>(dlogits), rows, classes);
    }

    private static void CrossEntropyBackward<T>(T* p, int* labels, T scale, T* d, int rows, int classes) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Elementwise.Unary(p, d, rows * classes, new ScaleOp<T>(scale));
        // scale p - scale at the label, from d alone, so d may be p (in place).
        for (int r = 0; r < rows; r++) d[(long)r * classes + labels[r]] -= scale;
    }
}
