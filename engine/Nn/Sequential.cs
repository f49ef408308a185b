namespace Vicreg.Engine.Nn;

/// <summary>Children run in order; they are named "0", "1", ... as in nn.Sequential.</summary>
public sealed class Sequential : Module
{
    private readonly List<Module> _layers = [];

    /// <summary>The layers, named "0", "1", ... in order.</summary>
    public Sequential(params Module[] layers)
    {
        foreach (var l in layers) Add(l);
    }

    /// <summary>Appends <paramref name="layer"/> under the next number; returns this.</summary>
    public Sequential Add(Module layer)
    {
        RegisterModule(_layers.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), layer);
        _layers.Add(layer);
        return this;
    }

    /// <summary>The number of layers.</summary>
    public int Count => _layers.Count;
    /// <summary>Layer <paramref name="i"/>.</summary>
    public Module this[int i] => _layers[i];

    /// <summary>Each layer applied to the previous one's output; a <see cref="BatchNorm"/> followed by a <see cref="Relu"/>
    /// runs as the one fused op <see cref="BatchNorm.ForwardRelu"/> (the same result, one pass and one stored tensor fewer).</summary>
    public override Tensor Forward(Tensor x)
    {
        for (int i = 0; i < _layers.Count; i++)
        {
            if (_layers[i] is BatchNorm norm && i + 1 < _layers.Count && _layers[i + 1] is Relu)
            {
                x = norm.ForwardRelu(x);
                i++;
            }
            else x = _layers[i].Forward(x);
        }
        return x;
    }
}
