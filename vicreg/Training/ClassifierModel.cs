using Vicreg.Engine;
using Vicreg.Engine.Nn;
using Vicreg.Engine.Models;

namespace Vicreg.Training;

/// <summary>A backbone with a linear classifier on its representation, trained together when fine-tuning. Its
/// names read "backbone.layer1.0.conv1.weight" and "head.weight", so a fine-tuning checkpoint's backbone loads
/// wherever a pretraining checkpoint's does (the "model.backbone." prefix).</summary>
public sealed class ClassifierModel : Module
{
    public ResNet Backbone { get; }
    public Linear Head { get; }

    public ClassifierModel(ResNet backbone, Linear head)
    {
        Backbone = RegisterModule("backbone", backbone);
        Head = RegisterModule("head", head);
    }

    public override Tensor Forward(Tensor x) => Head.Forward(Backbone.Forward(x));

    /// <summary>Whether a parameter name (as <see cref="Module.NamedParameters"/> gives it) belongs to the head.</summary>
    public static bool IsHead(string name) => name.StartsWith("head.", StringComparison.Ordinal);
}
