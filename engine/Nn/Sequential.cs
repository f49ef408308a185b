namespace Vicreg.Engine.Nn;

/// <summary>Children run in order; they are named "0", "1", ... as in nn.Sequential.</summary>
public sealed class Sequential : Module
{
    private readonly List<Module> _layers = [];

    public Sequential(params Module[] layers)
    {
        foreach (var l in layers) Add(l);
    }

    public Sequential Add(Module layer)
    {
        RegisterModule(_layers.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), layer);
        _layers.Add(layer);
        return this;
    }

    public int Count => _layers.Count;
    public Module this[int i] => _layers[i];

    public override Tensor Forward(Tensor x)
    {
        foreach (var l in _layers) x = l.Forward(x);
        return x;
    }
}
