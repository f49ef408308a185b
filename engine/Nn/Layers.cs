namespace Vicreg.Engine.Nn;

/// <summary>y = x wᵀ + b (PyTorch's nn.Linear, same initialisation).</summary>
public sealed class Linear : Module
{
    public Tensor Weight { get; }
    public Tensor? Bias { get; }

    public Linear(int inFeatures, int outFeatures, bool bias, ref Rng rng, DType dtype = DType.Float32, IBackend? backend = null)
    {
        Weight = RegisterParameter("weight", Tensor.Empty(new Shape(outFeatures, inFeatures), dtype, backend));
        Init.DefaultWeight(Weight, ref rng);
        if (bias)
        {
            Bias = RegisterParameter("bias", Tensor.Empty(new Shape(outFeatures), dtype, backend));
            Init.DefaultBias(Bias, inFeatures, ref rng);
        }
    }

    public override Tensor Forward(Tensor x) => Ops.Linear(x, Weight, Bias);
}

/// <summary>PyTorch's nn.Conv2d with a square kernel, one stride and one padding for both axes.</summary>
public sealed class Conv2d : Module
{
    public Tensor Weight { get; }
    public Tensor? Bias { get; }
    public int Stride { get; }
    public int Padding { get; }

    public Conv2d(int inChannels, int outChannels, int kernel, int stride, int padding, bool bias, ref Rng rng,
        DType dtype = DType.Float32, IBackend? backend = null)
    {
        Stride = stride;
        Padding = padding;
        Weight = RegisterParameter("weight", Tensor.Empty(new Shape(outChannels, inChannels, kernel, kernel), dtype, backend));
        Init.DefaultWeight(Weight, ref rng);
        if (bias)
        {
            Bias = RegisterParameter("bias", Tensor.Empty(new Shape(outChannels), dtype, backend));
            Init.DefaultBias(Bias, Init.FanIn(Weight), ref rng);
        }
    }

    public override Tensor Forward(Tensor x) => Ops.Conv2d(x, Weight, Bias, Stride, Padding);
}

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

public sealed class Relu : Module
{
    public override Tensor Forward(Tensor x) => Ops.Relu(x);
}

public sealed class MaxPool2d(int kernel, int stride, int padding) : Module
{
    public override Tensor Forward(Tensor x) => Ops.MaxPool2d(x, kernel, stride, padding);
}

/// <summary>Mean over H and W, flattened to [N, C] (torchvision's avgpool followed by flatten).</summary>
public sealed class GlobalAvgPool : Module
{
    public override Tensor Forward(Tensor x) => Ops.GlobalAvgPool(x);
}

public sealed class Identity : Module
{
    public override Tensor Forward(Tensor x) => x;
}

/// <summary>Children run in order; they are named "0", "1", ... as in nn.Sequential.</summary>
public sealed class Sequential : Module
{
    private readonly List<Module> _layers = [];

    public Sequential(params Module[] layers)
    {
        foreach (var l in layers) Add(l);
    }

    public Sequential Add(Module layer)
    {
        RegisterModule(_layers.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), layer);
        _layers.Add(layer);
        return this;
    }

    public int Count => _layers.Count;
    public Module this[int i] => _layers[i];

    public override Tensor Forward(Tensor x)
    {
        foreach (var l in _layers) x = l.Forward(x);
        return x;
    }
}
