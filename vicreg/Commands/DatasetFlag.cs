using Vicreg.Datasets;
using Vicreg.Engine.Data;

namespace Vicreg.Commands;

/// <summary>--dataset as the commands read it: <see cref="DatasetCatalog.Resolve"/>, its refusals one-line usage errors.</summary>
public static class DatasetFlag
{
    public static (string Name, string? Note) Resolve(string command, string? dataset, string? dataDir)
    {
        try
        {
            return DatasetCatalog.Resolve(dataset, dataDir);
        }
        catch (DatasetException e)
        {
            throw new UsageException($"{command}: {e.Message}");
        }
    }
}
