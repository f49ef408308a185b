namespace Vicreg.Engine.IO.Pytorch;

/// <summary>A Python dict (or OrderedDict) built by the unpickler: its items in insertion order, a later
/// value replacing an earlier one under the same string or integer key, as Python does.</summary>
internal sealed class PickleDict
{
    private readonly List<KeyValuePair<object?, object?>> _items = [];
    private readonly Dictionary<object, int> _index = [];

    public IReadOnlyList<KeyValuePair<object?, object?>> Items => _items;

    public void Set(object? key, object? value)
    {
        // Only strings and integers are compared by value; other keys (tuples, None) are never looked up.
        if (key is string or long && _index.TryGetValue(key, out int at)) { _items[at] = new(key, value); return; }
        if (key is string or long) _index[key] = _items.Count;
        _items.Add(new(key, value));
    }

    public bool TryGet(string key, out object? value)
    {
        if (_index.TryGetValue(key, out int at)) { value = _items[at].Value; return true; }
        value = null;
        return false;
    }
}
