using Vicreg.Engine;
using Vicreg.Engine.Nn;
using Vicreg.Engine.Models;

namespace Vicreg.Training;

/// <summary>The official VICReg module: a backbone and an expander ("projector"), so that a checkpoint's
/// names read "backbone.layer1.0.conv1.weight" and "projector.0.weight" as in the official code.</summary>
public sealed class VicregModel : Module
{
    public ResNet Backbone { get; }
    public Sequential Projector { get; }

    public VicregModel(ResNet backbone, Sequential projector)
    {
        Backbone = RegisterModule("backbone", backbone);
        Projector = RegisterModule("projector", projector);
    }

    /// <summary>The embedding of one view. Each view goes through on its own, as in the official code,
    /// so batch norm sees each view's batch statistics separately.</summary>
    public override Tensor Forward(Tensor x) => Projector.Forward(Backbone.Forward(x));
}
