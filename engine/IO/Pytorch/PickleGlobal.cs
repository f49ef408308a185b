namespace Vicreg.Engine.IO.Pytorch;

/// <summary>What a global named by the pickle means to the restricted unpickler. Only the first four are
/// ever called; an unknown global is an inert name that is refused the moment anything would call it.</summary>
internal enum PickleGlobalKind
{
    Unknown,
    OrderedDict,
    RebuildTensorV2,
    RebuildParameter,
    StorageType,
}

/// <summary>A global (module and name) as the pickle wrote it. Nothing is imported or looked up beyond
/// matching the names against the short list a state dict needs.</summary>
internal sealed record PickleGlobal(string Module, string Name)
{
    public string FullName => $"{Module}.{Name}";

    public PickleGlobalKind Kind { get; } = (Module, Name) switch
    {
        ("collections", "OrderedDict") => PickleGlobalKind.OrderedDict,
        ("torch._utils", "_rebuild_tensor_v2") => PickleGlobalKind.RebuildTensorV2,
        ("torch._utils", "_rebuild_parameter") => PickleGlobalKind.RebuildParameter,
        ("torch", _) when PytorchStorageType.TryParse(Name, out _) => PickleGlobalKind.StorageType,
        _ => PickleGlobalKind.Unknown,
    };
}
