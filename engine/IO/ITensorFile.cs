namespace Vicreg.Engine.IO;

/// <summary>A tensor listed by a weights file: its name, shape and stored element type.</summary>
public sealed record StoredTensor(string Name, Shape Shape, string TypeName, bool IsFloating);

/// <summary>
/// A weights file opened for reading, whatever its format (safetensors, or a PyTorch .pth in the zip or
/// the legacy format): the tensors it lists, and reading one of them into a tensor of the same shape,
/// converting between floating types (and from int64 to int32, refusing values that do not fit).
/// </summary>
public interface ITensorFile : IDisposable
{
    /// <summary>The file's path.</summary>
    string Path { get; }
    /// <summary>A short phrase on the format and where the tensors were found ("safetensors",
    /// "zip format, 'model' entry").</summary>
    string FormatDescription { get; }
    /// <summary>Every tensor the file lists.</summary>
    IReadOnlyList<StoredTensor> Tensors { get; }
    /// <summary>Fills <paramref name="destination"/>, of the stored shape, with the tensor <paramref name="name"/>, converting its type.</summary>
    void ReadInto(string name, Tensor destination);
    /// <summary>A new tensor of the stored type's natural tensor type (see <see cref="SafetensorsDTypes.NaturalTensorType"/>).</summary>
    Tensor ReadTensor(string name, IBackend? backend = null);
}
