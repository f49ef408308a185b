using System.Numerics;
using System.Runtime.Intrinsics;
using Vicreg.Engine.Backends.Cpu.Kernels;

namespace Vicreg.Engine.Backends.Cpu;

// Elementwise kernels and the two broadcasting ones (a per-channel vector, a copy along one axis).
public sealed unsafe partial class CpuBackend
{
    /// <inheritdoc/>
    public void Unary(UnaryOp op, Tensor x, Tensor y, double alpha = 0)
    {
        KernelChecks.Unary(x, y);
        if (x.DType == DType.Float32) Unary(op, Ptr<float>(x), Ptr<float>(y), Count(x), (float)alpha);
        else Unary(op, Ptr<double>(x), Ptr<double>(y), Count(x), alpha);
    }

    private static void Unary<T>(UnaryOp op, T* x, T* y, int n, T alpha) where T : unmanaged, IFloatingPointIeee754<T>
    {
        switch (op)
        {
            case UnaryOp.Copy: if (x != y) Elementwise.Unary(x, y, n, new CopyOp<T>()); break;
            case UnaryOp.Scale: Elementwise.Unary(x, y, n, new ScaleOp<T>(alpha)); break;
            case UnaryOp.AddScalar: Elementwise.Unary(x, y, n, new AddScalarOp<T>(alpha)); break;
            case UnaryOp.Square: Elementwise.Unary(x, y, n, new SquareOp<T>()); break;
            case UnaryOp.Sqrt: Elementwise.Unary(x, y, n, new SqrtOp<T>()); break;
            case UnaryOp.Relu: Elementwise.Unary(x, y, n, new ReluOp<T>()); break;
            case UnaryOp.Hinge: Elementwise.Unary(x, y, n, new HingeOp<T>(alpha)); break;
            case UnaryOp.Exp: Elementwise.Unary(x, y, n, new ExpOp<T>()); break;
            case UnaryOp.Log: Elementwise.Unary(x, y, n, new LogOp<T>()); break;
            case UnaryOp.Reciprocal: Elementwise.Unary(x, y, n, new ReciprocalOp<T>()); break;
            case UnaryOp.Tanh: Elementwise.Unary(x, y, n, new TanhOp<T>()); break;
            case UnaryOp.Pow: Elementwise.Unary(x, y, n, new PowOp<T>(alpha)); break;
            case UnaryOp.Gelu: Elementwise.Unary(x, y, n, new GeluOp<T>()); break;
            default: throw new ArgumentOutOfRangeException(nameof(op), op, "unknown unary op");
        }
    }

    /// <inheritdoc/>
    public void Binary(BinaryOp op, Tensor a, Tensor b, Tensor y, double alpha = 0)
    {
        KernelChecks.Binary(a, b, y);
        if (a.DType == DType.Float32) Binary(op, Ptr<float>(a), Ptr<float>(b), Ptr<float>(y), Count(a), (float)alpha);
        else Binary(op, Ptr<double>(a), Ptr<double>(b), Ptr<double>(y), Count(a), alpha);
    }

    private static void Binary<T>(BinaryOp op, T* a, T* b, T* y, int n, T alpha) where T : unmanaged, IFloatingPointIeee754<T>
    {
        switch (op)
        {
            case BinaryOp.Add: Elementwise.Binary(a, b, y, n, new AddOp<T>()); break;
            case BinaryOp.Sub: Elementwise.Binary(a, b, y, n, new SubOp<T>()); break;
            case BinaryOp.Mul: Elementwise.Binary(a, b, y, n, new MulOp<T>()); break;
            case BinaryOp.Div: Elementwise.Binary(a, b, y, n, new DivOp<T>()); break;
            case BinaryOp.ReluBackward: Elementwise.Binary(a, b, y, n, new ReluBackwardOp<T>()); break;
            case BinaryOp.HingeBackward: Elementwise.Binary(a, b, y, n, new HingeBackwardOp<T>(alpha)); break;
            case BinaryOp.Maximum: Elementwise.Binary(a, b, y, n, new MaximumOp<T>()); break;
            case BinaryOp.Minimum: Elementwise.Binary(a, b, y, n, new MinimumOp<T>()); break;
            case BinaryOp.MaxGradientShare: Elementwise.Binary(a, b, y, n, new MaxGradientShareOp<T>()); break;
            case BinaryOp.SelectNonZero: Elementwise.Binary(a, b, y, n, new SelectNonZeroOp<T>()); break;
            case BinaryOp.SelectZero: Elementwise.Binary(a, b, y, n, new SelectZeroOp<T>()); break;
            case BinaryOp.TanhBackward: Elementwise.Binary(a, b, y, n, new TanhBackwardOp<T>()); break;
            case BinaryOp.GeluBackward: Elementwise.Binary(a, b, y, n, new GeluBackwardOp<T>()); break;
            default: throw new ArgumentOutOfRangeException(nameof(op), op, "unknown binary op");
        }
    }

    /// <inheritdoc/>
    public void Axpy(double alpha, Tensor x, Tensor y)
    {
        KernelChecks.Axpy(x, y);
        if (x.DType == DType.Float32) Elementwise.Binary(Ptr<float>(x), Ptr<float>(y), Ptr<float>(y), Count(x), new AxpyOp<float>((float)alpha));
        else Elementwise.Binary(Ptr<double>(x), Ptr<double>(y), Ptr<double>(y), Count(x), new AxpyOp<double>(alpha));
    }

    /// <inheritdoc/>
    public void AddChannelVector(Tensor x, Tensor v, int outer, int channels, int inner, double alpha, Tensor y)
    {
        KernelChecks.AddChannelVector(x, v, outer, channels, inner, y);
        if (x.DType == DType.Float32) AddChannelVector(Ptr<float>(x), Ptr<float>(v), outer, channels, inner, (float)alpha, Ptr<float>(y));
        else AddChannelVector(Ptr<double>(x), Ptr<double>(v), outer, channels, inner, alpha, Ptr<double>(y));
    }

    private static void AddChannelVector<T>(T* x, T* v, int outer, int channels, int inner, T alpha, T* y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var body = new AddChannelVectorBody<T> { X = x, V = v, Y = y, Channels = channels, Inner = inner, Alpha = alpha };
        long total = (long)outer * channels * inner;
        // inner == 1 ([N, C] rows): a task is one row, vectorized along the channels; else one (o, c) plane.
        int tasks = inner == 1 ? outer : outer * channels;
        RunTasks(tasks, total, ref body);
    }

    private struct AddChannelVectorBody<T> : IRangeBody where T : unmanaged, IFloatingPointIeee754<T>
    {
        public T* X, V, Y;
        public int Channels, Inner;
        public T Alpha;

        public void Run(int start, int end)
        {
            if (Inner == 1)
            {
                int w = Vector256<T>.Count;
                var a = Vector256.Create(Alpha);
                for (int o = start; o < end; o++)
                {
                    T* x = X + (long)o * Channels, y = Y + (long)o * Channels;
                    int c = 0;
                    for (; c + w <= Channels; c += w)
                        Vector256.Store(VectorMath.Fma(Vector256.Load(V + c), a, Vector256.Load(x + c)), y + c);
                    for (; c < Channels; c++) y[c] = T.FusedMultiplyAdd(V[c], Alpha, x[c]);
                }
                return;
            }
            for (int p = start; p < end; p++)
            {
                long offset = (long)p * Inner;
                VectorMath.ScaleShift(X + offset, Y + offset, Inner, T.One, Alpha * V[p % Channels]);
            }
        }
    }

    /// <inheritdoc/>
    public void Broadcast(Tensor x, int outer, int mid, int inner, double alpha, Tensor y)
    {
        KernelChecks.Broadcast(x, outer, mid, inner, y);
        if (x.DType == DType.Float32) Broadcast(Ptr<float>(x), outer, mid, inner, (float)alpha, Ptr<float>(y));
        else Broadcast(Ptr<double>(x), outer, mid, inner, alpha, Ptr<double>(y));
    }

    private static void Broadcast<T>(T* x, int outer, int mid, int inner, T alpha, T* y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var body = new BroadcastBody<T> { X = x, Y = y, Mid = mid, Inner = inner, Alpha = alpha };
        int rows = outer * mid;
        RunTasks(rows, (long)rows * inner, ref body);
    }

    private struct BroadcastBody<T> : IRangeBody where T : unmanaged, IFloatingPointIeee754<T>
    {
        public T* X, Y;
        public int Mid, Inner;
        public T Alpha;

        public void Run(int start, int end)
        {
            for (int r = start; r < end; r++)
            {
                int o = r / Mid;
                Elementwise.UnaryRange(X + (long)o * Inner, Y + (long)r * Inner, 0, Inner, new ScaleOp<T>(Alpha));
            }
        }
    }
}
