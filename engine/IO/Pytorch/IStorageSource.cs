namespace Vicreg.Engine.IO.Pytorch;

/// <summary>Where a .pth file keeps its storages' bytes: one zip record per storage, or the legacy format's
/// tail. Every storage's length was checked against the file when it was opened.</summary>
internal interface IStorageSource : IDisposable
{
    byte[] Read(PytorchStorage storage);
}
