namespace Vicreg.Engine.IO.Pytorch;

/// <summary>
/// A torch.*Storage class named in a persistent id: its element size (to check storage lengths) and,
/// for the types this program converts to its tensors, the matching file type. Storages of the other
/// types (uint8, int8, int16, bool) are accepted in a checkpoint but refused if a tensor of theirs is read.
/// </summary>
internal sealed record PytorchStorageType(string Name, int ElementSize, SafetensorsDType? FileType, string ElementName)
{
    private static readonly PytorchStorageType[] s_all =
    [
        new("FloatStorage", 4, SafetensorsDType.F32, "float32"),
        new("DoubleStorage", 8, SafetensorsDType.F64, "float64"),
        new("HalfStorage", 2, SafetensorsDType.F16, "float16"),
        new("BFloat16Storage", 2, SafetensorsDType.BF16, "bfloat16"),
        new("LongStorage", 8, SafetensorsDType.I64, "int64"),
        new("IntStorage", 4, SafetensorsDType.I32, "int32"),
        new("ShortStorage", 2, null, "int16"),
        new("CharStorage", 1, null, "int8"),
        new("ByteStorage", 1, null, "uint8"),
        new("BoolStorage", 1, null, "bool"),
    ];

    public static bool TryParse(string name, out PytorchStorageType type)
    {
        type = s_all.FirstOrDefault(t => t.Name == name)!;
        return type is not null;
    }

    /// <summary>The storage class torch.save names for a file type.</summary>
    public static PytorchStorageType For(SafetensorsDType fileType) => s_all.First(t => t.FileType == fileType);
}
