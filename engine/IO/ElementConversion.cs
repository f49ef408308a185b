using System.Runtime.InteropServices;

namespace Vicreg.Engine.IO;

/// <summary>
/// Turns the elements of a weights file (any <see cref="SafetensorsDType"/>) into a tensor's type: half
/// types and float64 widen or narrow to the float type, int64 narrows to int32 value by value. Shared by
/// the safetensors and PyTorch readers so that both convert the same way.
/// </summary>
internal static unsafe class ElementConversion
{
    /// <summary>Fills <paramref name="destination"/> from its elements held contiguously in <paramref name="source"/>
    /// (host bytes of type <paramref name="from"/>), through a staging copy when the tensor lives on a device.</summary>
    public static void CopyInto(Tensor destination, SafetensorsDType from, ReadOnlySpan<byte> source, Func<long, Exception> outOfRange)
    {
        byte[]? staging = destination.Backend.IsHostMemory ? null : new byte[destination.Bytes];
        var target = staging is null ? new Span<byte>((void*)destination.Data, checked((int)destination.Bytes)) : staging;
        if (SameLayout(from, destination.DType)) source.CopyTo(target);
        else Convert(from, source, destination.DType, target, outOfRange);
        if (staging is not null) destination.Backend.CopyFromHost(staging, destination);
    }

    /// <summary>True when the file's bytes are already the tensor's bytes.</summary>
    public static bool SameLayout(SafetensorsDType s, DType d) =>
        (s, d) is (SafetensorsDType.F32, DType.Float32) or (SafetensorsDType.F64, DType.Float64) or (SafetensorsDType.I32, DType.Int32);

    /// <summary>Converts <paramref name="src"/> (elements of <paramref name="from"/>) into <paramref name="dst"/>
    /// (elements of <paramref name="to"/>); an int64 outside int32's range raises <paramref name="outOfRange"/>(value).</summary>
    public static void Convert(SafetensorsDType from, ReadOnlySpan<byte> src, DType to, Span<byte> dst, Func<long, Exception> outOfRange)
    {
        if (to == DType.Int32)
        {
            var output = MemoryMarshal.Cast<byte, int>(dst);
            if (from == SafetensorsDType.I32) { MemoryMarshal.Cast<byte, int>(src).CopyTo(output); return; }
            var input = MemoryMarshal.Cast<byte, long>(src);
            for (int i = 0; i < input.Length; i++)
            {
                if (input[i] < int.MinValue || input[i] > int.MaxValue) throw outOfRange(input[i]);
                output[i] = (int)input[i];
            }
            return;
        }
        if (to == DType.Float32) ToFloat(from, src, MemoryMarshal.Cast<byte, float>(dst));
        else ToDouble(from, src, MemoryMarshal.Cast<byte, double>(dst));
    }

    private static void ToFloat(SafetensorsDType from, ReadOnlySpan<byte> src, Span<float> dst)
    {
        switch (from)
        {
            case SafetensorsDType.F32: MemoryMarshal.Cast<byte, float>(src).CopyTo(dst); break;
            case SafetensorsDType.F64:
            {
                var s = MemoryMarshal.Cast<byte, double>(src);
                for (int i = 0; i < s.Length; i++) dst[i] = (float)s[i];
                break;
            }
            case SafetensorsDType.F16:
            {
                var s = MemoryMarshal.Cast<byte, Half>(src);
                for (int i = 0; i < s.Length; i++) dst[i] = (float)s[i];
                break;
            }
            default: // BF16: the upper half of a float32's bits
            {
                var s = MemoryMarshal.Cast<byte, ushort>(src);
                for (int i = 0; i < s.Length; i++) dst[i] = BitConverter.Int32BitsToSingle(s[i] << 16);
                break;
            }
        }
    }

    private static void ToDouble(SafetensorsDType from, ReadOnlySpan<byte> src, Span<double> dst)
    {
        Span<float> one = stackalloc float[1];
        int size = from.SizeInBytes();
        for (int i = 0; i < dst.Length; i++)
        {
            if (from == SafetensorsDType.F64) { dst[i] = MemoryMarshal.Read<double>(src.Slice(i * 8)); continue; }
            ToFloat(from, src.Slice(i * size, size), one);
            dst[i] = one[0];
        }
    }
}
