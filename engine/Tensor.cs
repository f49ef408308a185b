using System.Runtime.InteropServices;
using Vicreg.Engine.Autograd;

namespace Vicreg.Engine;

/// <summary>
/// A dense, contiguous, row-major tensor (NCHW for images, as PyTorch) living on one backend.
/// A reshape or a slice along the first axis is a view that shares the storage; a tensor's buffer
/// returns to the backend's cache when the tensor and all its views are disposed. A tensor made inside a
/// <see cref="TensorScope"/> is recycled when the scope ends: its header (and the storage object it allocated)
/// serve a later tensor, so a steady training step allocates no GC objects. Holding one past its scope is
/// an error: it reads as disposed until it is reused.
/// </summary>
public sealed class Tensor : IDisposable
{
    /// <summary>The dimensions, outermost first.</summary>
    public Shape Shape { get; private set; }
    /// <summary>The element type.</summary>
    public DType DType { get; private set; }
    /// <summary>The buffer this tensor, and every view of it, reads and writes.</summary>
    public Storage Storage { get; private set; }
    /// <summary>Offset of the first element within the storage, in elements.</summary>
    public long Offset { get; private set; }
    private bool _disposed;
    // True when this header allocated its storage (not a view): its storage object is recycled with it.
    private bool _ownsStorage;

    /// <summary>Set on leaves (parameters) whose gradient is wanted, and on every result computed from one.</summary>
    public bool RequiresGrad { get; set; }
    /// <summary>Accumulated gradient, same shape as this tensor; for leaves it persists until zeroed.</summary>
    public Tensor? Grad { get; set; }
    /// <summary>The tape node that produced this tensor, or null for a leaf.</summary>
    public Node? GradFn { get; internal set; }
    /// <summary>True when no tape node produced this tensor (inputs and parameters).</summary>
    public bool IsLeaf => GradFn is null;

    /// <summary>Back-propagates from this one-element tensor through the tape (see <see cref="Tape.Backward"/>).</summary>
    public void Backward() => Tape.Backward(this);
    /// <summary>Optional name (parameters carry their torchvision-style name for messages).</summary>
    public string? Name { get; set; }

    /// <summary>The backend whose memory holds the elements and whose kernels compute on them.</summary>
    public IBackend Backend => Storage.Backend;
    /// <summary>The number of elements.</summary>
    public long Numel => Shape.Numel;
    /// <summary>The number of dimensions.</summary>
    public int Rank => Shape.Rank;
    /// <summary>The size of the elements in bytes.</summary>
    public long Bytes => Numel * DType.SizeInBytes();
    /// <summary>Address of the first element (host memory on the CPU, device memory on CUDA).</summary>
    public nint Data
    {
        get
        {
            if (_disposed || Storage.IsReleased) throw new ObjectDisposedException(nameof(Tensor), $"tensor {Shape} was used after it was disposed");
            return Storage.Pointer + (nint)(Offset * DType.SizeInBytes());
        }
    }

    private Tensor(Shape shape, DType dtype, Storage storage, long offset, bool ownsStorage)
    {
        Shape = shape;
        DType = dtype;
        Storage = storage;
        Offset = offset;
        _ownsStorage = ownsStorage;
    }

    /// <summary>A header for the given storage: a recycled one when this thread has one, else a new one.</summary>
    private static Tensor Create(Shape shape, DType dtype, Storage storage, long offset, bool ownsStorage)
    {
        var t = Recycler<Tensor>.Take();
        if (t is null) t = new Tensor(shape, dtype, storage, offset, ownsStorage);
        else
        {
            t.Shape = shape;
            t.DType = dtype;
            t.Storage = storage;
            t.Offset = offset;
            t._ownsStorage = ownsStorage;
            t._disposed = false;
        }
        TensorScope.Register(t);
        return t;
    }

    /// <summary>Called by the scope that owned this disposed tensor when it ends: forgets every link (gradient,
    /// tape node, name) and gives the header, and the storage object it allocated, back for reuse.</summary>
    internal void Recycle()
    {
        if (!_disposed) throw new InvalidOperationException($"tensor {Shape} was recycled while still in use");
        if (_ownsStorage && Storage.IsReleased) Storage.Recycle();
        _ownsStorage = false;
        RequiresGrad = false;
        Grad = null;
        GradFn = null;
        Name = null;
        Recycler<Tensor>.Return(this);
    }

    /// <summary>A new tensor with undefined contents on the given backend (the default backend when null).</summary>
    public static Tensor Empty(Shape shape, DType dtype = DType.Float32, IBackend? backend = null)
    {
        backend ??= Device.Default;
        if (!backend.Supports(dtype)) throw new NotSupportedException($"the {backend.Name} backend does not hold {dtype.Name()} tensors");
        // Checked: a shape from a file or a flag may ask for more bytes than a long holds, and a wrapped
        // count would hand back a buffer shorter than the tensor.
        long bytes;
        try { bytes = checked(Math.Max(1, shape.Numel) * dtype.SizeInBytes()); }
        catch (OverflowException) { throw new OutOfMemoryException($"a {dtype.Name()} tensor of shape {shape} needs more bytes than can be addressed"); }
        return Create(shape, dtype, Storage.Allocate(backend, bytes), 0, ownsStorage: true);
    }

    /// <summary>A new float32 tensor of these dimensions with undefined contents on the default backend.</summary>
    public static Tensor Empty(params ReadOnlySpan<int> dims) => Empty(new Shape(dims));

    /// <summary>A new tensor of zeros on the given backend (the default backend when null).</summary>
    public static Tensor Zeros(Shape shape, DType dtype = DType.Float32, IBackend? backend = null) => Full(shape, 0, dtype, backend);

    /// <summary>A new tensor with every element <paramref name="value"/> on the given backend (the default backend when null).</summary>
    public static Tensor Full(Shape shape, double value, DType dtype = DType.Float32, IBackend? backend = null)
    {
        var t = Empty(shape, dtype, backend);
        t.Backend.Fill(t, value);
        return t;
    }

    /// <summary>A new tensor of the shape, type and backend of <paramref name="t"/>, contents undefined.</summary>
    public static Tensor EmptyLike(Tensor t) => Empty(t.Shape, t.DType, t.Backend);
    /// <summary>A new tensor of zeros of the shape, type and backend of <paramref name="t"/>.</summary>
    public static Tensor ZerosLike(Tensor t) => Zeros(t.Shape, t.DType, t.Backend);

    /// <summary>A new tensor holding a copy of <paramref name="values"/> (float, double or int), row-major in <paramref name="shape"/>; a <see cref="ShapeMismatchException"/> when their count is not the shape's.</summary>
    public static Tensor FromArray<T>(ReadOnlySpan<T> values, Shape shape, IBackend? backend = null) where T : unmanaged
    {
        var dtype = DTypeOf<T>();
        if (values.Length != shape.Numel)
            throw new ShapeMismatchException($"FromArray: {values.Length} values do not fill shape {shape}");
        var t = Empty(shape, dtype, backend);
        t.Backend.CopyFromHost(MemoryMarshal.AsBytes(values), t);
        return t;
    }

    /// <summary>A new tensor of rank 0 holding <paramref name="value"/>.</summary>
    public static Tensor Scalar(double value, DType dtype = DType.Float32, IBackend? backend = null) => Full(new Shape(), value, dtype, backend);

    /// <summary>The element type of a .NET type: float, double or int; a <see cref="NotSupportedException"/> for any other.</summary>
    public static DType DTypeOf<T>() where T : unmanaged
    {
        if (typeof(T) == typeof(float)) return DType.Float32;
        if (typeof(T) == typeof(double)) return DType.Float64;
        if (typeof(T) == typeof(int)) return DType.Int32;
        throw new NotSupportedException($"no tensor element type for {typeof(T).Name}");
    }

    /// <summary>Copies the contents to a new host array (for tests, logging and I/O; not for the hot path).</summary>
    public T[] ToArray<T>() where T : unmanaged
    {
        if (DTypeOf<T>() != DType) throw new InvalidOperationException($"ToArray<{typeof(T).Name}> on a {DType.Name()} tensor");
        var a = new T[Numel];
        Backend.CopyToHost(this, MemoryMarshal.AsBytes(a.AsSpan()));
        return a;
    }

    /// <summary>The single value of a one-element tensor, as a double.</summary>
    public double Item()
    {
        if (Numel != 1) throw new InvalidOperationException($"Item() needs one element, tensor has shape {Shape}");
        Span<double> value = stackalloc double[1];
        ReadSmall(value);
        return value[0];
    }

    /// <summary>The most elements <see cref="ReadSmall"/> reads.</summary>
    public const int SmallReadLimit = 16;

    /// <summary>Copies the values of a small tensor (at most <see cref="SmallReadLimit"/> elements: a loss's terms, a
    /// few statistics) to <paramref name="destination"/> as doubles, through a stack buffer, so that reading them every
    /// step allocates nothing. Waits for the device.</summary>
    public void ReadSmall(Span<double> destination)
    {
        if (Numel > SmallReadLimit || destination.Length != Numel)
            throw new ArgumentException($"ReadSmall: {destination.Length} values from a tensor of shape {Shape} (at most {SmallReadLimit})");
        int size = DType.SizeInBytes();
        Span<byte> bytes = stackalloc byte[SmallReadLimit * sizeof(double)];
        bytes = bytes[..(destination.Length * size)];
        Backend.CopyToHost(this, bytes);
        for (int i = 0; i < destination.Length; i++)
        {
            var element = bytes[(i * size)..];
            destination[i] = DType switch
            {
                DType.Float32 => MemoryMarshal.Read<float>(element),
                DType.Float64 => MemoryMarshal.Read<double>(element),
                _ => MemoryMarshal.Read<int>(element),
            };
        }
    }

    /// <summary>Overwrites every element with <paramref name="values"/> (as many as the tensor holds, of its element type), from host memory.</summary>
    public void CopyFrom<T>(ReadOnlySpan<T> values) where T : unmanaged
    {
        if (DTypeOf<T>() != DType || values.Length != Numel)
            throw new ShapeMismatchException($"CopyFrom: {values.Length} {typeof(T).Name} values into a {DType.Name()} tensor {Shape}");
        Backend.CopyFromHost(MemoryMarshal.AsBytes(values), this);
    }

    /// <summary>Host memory of a CPU tensor, without copying.</summary>
    public unsafe Span<T> AsSpan<T>() where T : unmanaged
    {
        if (!Backend.IsHostMemory) throw new InvalidOperationException($"AsSpan on a {Backend.Name} tensor: copy it to the host first");
        if (DTypeOf<T>() != DType) throw new InvalidOperationException($"AsSpan<{typeof(T).Name}> on a {DType.Name()} tensor");
        return new Span<T>((void*)Data, checked((int)Numel));
    }

    /// <summary>A view with another shape of the same number of elements (no copy). Reshaping does
    /// not record a tape node; use <see cref="Ops.Reshape"/> for a differentiable reshape.</summary>
    public Tensor View(Shape shape)
    {
        if (shape.Numel != Numel) throw new ShapeMismatchException($"View: cannot view {Shape} as {shape}");
        Storage.AddReference();
        return Create(shape, DType, Storage, Offset, ownsStorage: false);
    }

    /// <summary>A view of rows [start, start+count) along the first axis (contiguous, so no copy).</summary>
    public Tensor NarrowView(int start, int count)
    {
        if (Rank == 0 || start < 0 || count < 0 || start + count > Shape[0])
            throw new ShapeMismatchException($"Narrow: rows [{start}, {start + count}) of {Shape}");
        long rowElements = Rank == 0 ? 1 : Shape.Product(1, Rank);
        Storage.AddReference();
        return Create(Shape.With(0, count), DType, Storage, Offset + start * rowElements, ownsStorage: false);
    }

    /// <summary>Releases this tensor's hold on its storage; the buffer returns to its backend's cache when no view uses it any more.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        Storage.Release();
    }

    /// <summary>True once <see cref="Dispose"/> ran.</summary>
    public bool IsDisposed => _disposed;

    /// <summary>"Tensor[2, 3] float32 on cpu".</summary>
    public override string ToString() => $"Tensor{Shape} {DType.Name()} on {Backend.Name}";
}
