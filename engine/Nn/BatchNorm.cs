using Vicreg.Engine.Distributed;

namespace Vicreg.Engine.Nn;

/// <summary>PyTorch's BatchNorm1d / BatchNorm2d (one class: the input's rank decides): weight 1, bias 0,
/// running mean 0, running var 1, momentum 0.1, eps 1e-5; num_batches_tracked kept for state-dict parity.
/// Given a <see cref="Communicator"/> of more than one rank, training normalizes with the statistics of
/// every rank's batch together (PyTorch's SyncBatchNorm).</summary>
public sealed class BatchNorm : Module
{
    /// <summary>The scale γ per channel (null when not affine).</summary>
    public Tensor? Weight { get; }
    /// <summary>The shift β per channel (null when not affine).</summary>
    public Tensor? Bias { get; }
    /// <summary>The running mean per channel, used in evaluation mode.</summary>
    public Tensor RunningMean { get; }
    /// <summary>The running (unbiased) variance per channel, used in evaluation mode.</summary>
    public Tensor RunningVar { get; }
    /// <summary>The number of training batches seen (PyTorch's num_batches_tracked).</summary>
    public Tensor NumBatchesTracked { get; }
    /// <summary>The running statistics' update weight.</summary>
    public double Momentum { get; }
    /// <summary>Added to the variance before its square root.</summary>
    public double Eps { get; }

    /// <summary>A batch norm over <paramref name="channels"/> channels (dimension 1 of the input).</summary>
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

    /// <summary>The ranks whose batches are normalized together in training (null: this process alone).</summary>
    public ICommunicator? Communicator { get; set; }

    /// <summary>Makes every BatchNorm under <paramref name="root"/> a SyncBatchNorm over <paramref name="communicator"/>.</summary>
    public static void Synchronize(Module root, ICommunicator communicator)
    {
        if (root is BatchNorm bn) bn.Communicator = communicator;
        foreach (var (_, child) in root.Children) Synchronize(child, communicator);
    }

    /// <summary>Normalizes [N, C] or [N, C, H, W] per channel: by the batch's statistics in training mode (updating the running ones), by the running ones in evaluation mode.</summary>
    public override Tensor Forward(Tensor x) => Normalize(x, relu: false);

    /// <summary>ReLU(<see cref="Forward"/>(x)), the same values, gradients and running statistics, in one fused op
    /// (<see cref="Ops.BatchNormRelu"/>) that never stores the values before the ReLU; synchronized batch norm runs
    /// the two ops.</summary>
    public Tensor ForwardRelu(Tensor x) => Normalize(x, relu: true);

    private Tensor Normalize(Tensor x, bool relu)
    {
        if (Training)
        {
            _batchesTracked++;
            NumBatchesTracked.Backend.Fill(NumBatchesTracked, _batchesTracked);
        }
        if (Training && Communicator is { Size: > 1 } communicator)
        {
            var synchronized = Ops.SyncBatchNorm(x, Weight, Bias, RunningMean, RunningVar, communicator, Momentum, Eps);
            return relu ? Ops.Relu(synchronized) : synchronized;
        }
        return relu
            ? Ops.BatchNormRelu(x, Weight, Bias, RunningMean, RunningVar, Training, Momentum, Eps)
            : Ops.BatchNorm(x, Weight, Bias, RunningMean, RunningVar, Training, Momentum, Eps);
    }

    /// <summary>The batch counter is kept in a field as well as in the buffer: re-read it after a load.</summary>
    protected override void OnStateLoaded() => _batchesTracked = (int)NumBatchesTracked.Item();
}
