namespace Vicreg.Engine.Nn;

/// <summary>PyTorch's BatchNorm1d / BatchNorm2d (one class: the input's rank decides): weight 1, bias 0,
/// running mean 0, running var 1, momentum 0.1, eps 1e-5; num_batches_tracked kept for state-dict parity.</summary>
public sealed class BatchNorm : Module
{
    public Tensor? Weight { get; }
    public Tensor? Bias { get; }
    public Tensor RunningMean { get; }
    public Tensor RunningVar { get; }
    public Tensor NumBatchesTracked { get; }
    public double Momentum { get; }
    public double Eps { get; }

    public BatchNorm(int channels, bool affine = true, double momentum = 0.1, double eps = 1e-5, DType dtype = DType.Float32, IBackend? backend = null)
    {
        Momentum = momentum;
        Eps = eps;
        if (affine)
        {
            Weight = RegisterParameter("weight", Tensor.Full(new Shape(channels), 1, dtype, backend));
            Bias = RegisterParameter("bias", Tensor.Zeros(new Shape(channels), dtype, backend));
        }
        RunningMean = RegisterBuffer("running_mean", Tensor.Zeros(new Shape(channels), dtype, backend));
        RunningVar = RegisterBuffer("running_var", Tensor.Full(new Shape(channels), 1, dtype, backend));
        NumBatchesTracked = RegisterBuffer("num_batches_tracked", Tensor.Zeros(new Shape(), DType.Int32, backend));
        _batchesTracked = 0;
    }

    private int _batchesTracked;

    public override Tensor Forward(Tensor x)
    {
        if (Training)
        {
            _batchesTracked++;
            NumBatchesTracked.Backend.Fill(NumBatchesTracked, _batchesTracked);
        }
        return Ops.BatchNorm(x, Weight, Bias, RunningMean, RunningVar, Training, Momentum, Eps);
    }

    /// <summary>Re-reads the counter after a state dict was loaded into the buffer.</summary>
    public void SyncCounterFromBuffer() => _batchesTracked = (int)NumBatchesTracked.Item();
}
