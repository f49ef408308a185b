using System.Runtime.InteropServices;
using Vicreg.Engine.Backends.Cpu.Kernels;

namespace Vicreg.Engine.Backends.Cpu;

/// <summary>
/// Managed kernels on the host: Vector256 + FMA where the machine has them (portable Vector code
/// elsewhere), fanned out over the cores by <see cref="CpuParallel"/>. Float32 for training; Float64
/// runs the same generic kernels so that gradient checks can use double precision.
/// The kernel families live in the partial files beside this one.
/// </summary>
public sealed unsafe partial class CpuBackend : IBackend
{
    /// <summary>The process-wide CPU backend (there is no other instance); it owns the cache of host buffers.</summary>
    public static CpuBackend Instance { get; } = new();

    private readonly HostAllocator _allocator = new();

    private CpuBackend() { }

    /// <inheritdoc/>
    public string Name => "cpu";
    /// <inheritdoc/>
    public bool IsHostMemory => true;
    /// <inheritdoc/>
    public bool Supports(DType dtype) => true;

    /// <inheritdoc/>
    public nint Allocate(long bytes) => _allocator.Allocate(bytes);
    /// <inheritdoc/>
    public void Free(nint pointer, long bytes) => _allocator.Free(pointer, bytes);
    /// <inheritdoc/>
    public AllocatorStatistics MemoryStatistics => _allocator.Statistics;

    /// <inheritdoc/>
    public void CopyFromHost(ReadOnlySpan<byte> source, Tensor destination)
    {
        KernelChecks.CopyFromHost(source.Length, destination);
        source.CopyTo(new Span<byte>((void*)destination.Data, source.Length));
    }

    /// <inheritdoc/>
    public void CopyToHost(Tensor source, Span<byte> destination)
    {
        KernelChecks.CopyToHost(source, destination.Length);
        new ReadOnlySpan<byte>((void*)source.Data, destination.Length).CopyTo(destination);
    }

    /// <inheritdoc/>
    public void Copy(Tensor source, long sourceOffset, Tensor destination, long destinationOffset, long count)
    {
        KernelChecks.Copy(source, sourceOffset, destination, destinationOffset, count);
        int size = source.DType.SizeInBytes();
        Buffer.MemoryCopy((byte*)source.Data + sourceOffset * size, (byte*)destination.Data + destinationOffset * size,
            (destination.Numel - destinationOffset) * size, count * size);
    }

    /// <inheritdoc/>
    public void Fill(Tensor tensor, double value)
    {
        int n = checked((int)tensor.Numel);
        switch (tensor.DType)
        {
            case DType.Float32: new Span<float>((void*)tensor.Data, n).Fill((float)value); break;
            case DType.Float64: new Span<double>((void*)tensor.Data, n).Fill(value); break;
            default: new Span<int>((void*)tensor.Data, n).Fill((int)value); break;
        }
    }

    /// <inheritdoc/>
    public void FillDiagonal(Tensor matrix, double value)
    {
        KernelChecks.FillDiagonal(matrix);
        int d = matrix.Shape[0];
        for (long i = 0; i < d; i++)
        {
            long at = i * (d + 1);
            switch (matrix.DType)
            {
                case DType.Float32: ((float*)matrix.Data)[at] = (float)value; break;
                case DType.Float64: ((double*)matrix.Data)[at] = value; break;
                default: ((int*)matrix.Data)[at] = (int)value; break;
            }
        }
    }

    /// <inheritdoc/>
    public void Synchronize() { }

    /// <summary>Returns the cached host buffers to the system; the backend stays usable (it is a process-wide singleton).</summary>
    public void Dispose() => _allocator.ReleaseCached();

    /// <summary>Reinterprets a tensor's data as a typed pointer (the caller has checked the type).</summary>
    internal static T* Ptr<T>(Tensor t) where T : unmanaged => (T*)t.Data;
    internal static T* PtrOrNull<T>(Tensor? t) where T : unmanaged => t is null ? null : (T*)t.Data;
    internal static int Count(Tensor t) => checked((int)t.Numel);
    internal static bool IsDouble(Tensor t) => t.DType == DType.Float64;

    /// <summary>Runs body over tasks [0, tasks): on this thread when the kernel touches fewer than
    /// <see cref="VectorMath.ParallelThreshold"/> elements (fanning out would cost more than it saves),
    /// else over all threads with <see cref="CpuParallel.For"/>.</summary>
    private static void RunTasks<TBody>(int tasks, long elements, ref TBody body) where TBody : struct, IRangeBody
    {
        if (elements < VectorMath.ParallelThreshold) body.Run(0, tasks);
        else CpuParallel.For(tasks, ref body);
    }

    internal static Span<T> SpanOf<T>(Tensor t) where T : unmanaged => new((void*)t.Data, checked((int)t.Numel));
    internal static ReadOnlySpan<T> ReadOnlySpanOf<T>(Tensor t) where T : unmanaged => MemoryMarshal.CreateReadOnlySpan(ref *(T*)t.Data, checked((int)t.Numel));
}
