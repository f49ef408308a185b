using Vicreg.Engine;
using Vicreg.Engine.Backends.Cpu;
using Vicreg.Engine.IO;

namespace Vicreg.Commands;

/// <summary>
/// The file `embed --images` writes its features [N, rep] to: safetensors (a tensor "features" and the metadata
/// given), NumPy .npy (<see cref="NpyWriter"/>) or CSV (<see cref="CsvMatrixWriter"/>); by --format, or else by the
/// output's extension (.npy, .csv; anything else is safetensors).
/// </summary>
public static class FeatureFileFormat
{
    public static readonly string[] Names = ["safetensors", "npy", "csv"];

    /// <summary>The format --format names, or the one the output's extension implies; null when --format names none.</summary>
    public static string? Resolve(string? format, string output)
    {
        if (format is not null) return Names.Contains(format) ? format : null;
        return Path.GetExtension(output).ToLowerInvariant() switch
        {
            ".npy" => "npy",
            ".csv" => "csv",
            _ => "safetensors",
        };
    }

    public static void Write(string format, string path, float[] values, int rows, int columns, IReadOnlyDictionary<string, string> metadata)
    {
        switch (format)
        {
            case "npy":
                NpyWriter.Write(path, values, rows, columns);
                break;
            case "csv":
                CsvMatrixWriter.Write(path, values, rows, columns);
                break;
            default:
            {
                using var scope = TensorScope.Begin();
                SafetensorsWriter.Write(path, [("features", Tensor.FromArray<float>(values, new Shape(rows, columns), CpuBackend.Instance))], metadata);
                break;
            }
        }
    }
}
