namespace Vicreg.Engine.IO.Pytorch;

/// <summary>
/// A tensor as torch._utils._rebuild_tensor_v2 describes it: a window of a storage given by an element
/// offset, sizes and strides (so a transposed view, or several views of one storage, keep their layout).
/// The constructor checks that every element it addresses lies inside the storage's declared length.
/// </summary>
internal sealed class PytorchTensor
{
    public PytorchStorage Storage { get; }
    public long Offset { get; }
    public Shape Shape { get; }
    public long[] Strides { get; }

    private PytorchTensor(PytorchStorage storage, long offset, Shape shape, long[] strides)
    {
        Storage = storage;
        Offset = offset;
        Shape = shape;
        Strides = strides;
    }

    /// <summary>Validates the rebuild arguments; <paramref name="bad"/> builds the exception for a refusal.</summary>
    public static PytorchTensor Create(PytorchStorage storage, long offset, IReadOnlyList<long> sizes, IReadOnlyList<long> strides, Func<string, Exception> bad)
    {
        if (sizes.Count != strides.Count) throw bad($"a tensor has {sizes.Count} sizes but {strides.Count} strides");
        if (sizes.Count > Shape.MaxRank) throw bad($"a tensor has {sizes.Count} dimensions; at most {Shape.MaxRank} are supported");
        if (offset < 0) throw bad($"a tensor has the negative storage offset {offset}");
        Span<int> dims = stackalloc int[sizes.Count];
        long numel = 1, lastIndex = offset;
        try
        {
            for (int i = 0; i < sizes.Count; i++)
            {
                if (sizes[i] < 0 || sizes[i] > int.MaxValue) throw bad($"a tensor has the invalid size {sizes[i]}");
                if (strides[i] < 0) throw bad($"a tensor has the negative stride {strides[i]}");
                dims[i] = (int)sizes[i];
                numel = checked(numel * sizes[i]);
                if (sizes[i] > 0) lastIndex = checked(lastIndex + (sizes[i] - 1) * strides[i]);
            }
        }
        catch (OverflowException)
        {
            throw bad("a tensor's size or strides overflow 64 bits");
        }
        if (numel > 0 && lastIndex >= storage.Numel)
            throw bad($"a tensor [{string.Join(", ", sizes)}] at offset {offset} with strides [{string.Join(", ", strides)}] reaches element {lastIndex} of a storage of {storage.Numel}");
        return new PytorchTensor(storage, offset, new Shape(dims), [.. strides]);
    }

    public bool IsContiguous
    {
        get
        {
            long expected = 1;
            for (int i = Shape.Rank - 1; i >= 0; i--)
            {
                if (Shape[i] != 1 && Strides[i] != expected) return false;
                expected *= Shape[i];
            }
            return true;
        }
    }

    /// <summary>The tensor's elements in row-major order, copied out of the storage's bytes.</summary>
    public byte[] Gather(byte[] storage)
    {
        int size = Storage.Type.ElementSize;
        var output = new byte[checked((int)(Shape.Numel * size))];
        if (output.Length == 0) return output;
        if (IsContiguous)
        {
            storage.AsSpan(checked((int)(Offset * size)), output.Length).CopyTo(output);
            return output;
        }
        int written = 0;
        Copy(storage, 0, Offset, output, ref written, size);
        return output;
    }

    private void Copy(byte[] storage, int dim, long start, byte[] output, ref int written, int size)
    {
        int count = Shape[dim];
        long stride = Strides[dim];
        if (dim == Shape.Rank - 1)
        {
            for (int i = 0; i < count; i++, written += size)
                storage.AsSpan((int)((start + i * stride) * size), size).CopyTo(output.AsSpan(written));
            return;
        }
        for (int i = 0; i < count; i++) Copy(storage, dim + 1, start + i * stride, output, ref written, size);
    }
}
