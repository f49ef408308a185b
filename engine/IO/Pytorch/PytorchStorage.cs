namespace Vicreg.Engine.IO.Pytorch;

/// <summary>A storage a persistent id refers to: its type, its key (the record name in the zip format, the
/// saved object id in the legacy format) and its declared length in elements, checked against the bytes
/// the file actually holds before any of them is read.</summary>
internal sealed record PytorchStorage(PytorchStorageType Type, string Key, long Numel)
{
    public long ByteLength => checked(Numel * Type.ElementSize);
}
