using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace Vicreg.Engine.IO.Pytorch;

/// <summary>
/// A pickle reader that builds plain values and never runs anything: the opcodes of protocols 0 to 2
/// (and the framing, memo and string opcodes of 3 and 4, which torch.save may emit with another
/// pickle_protocol), producing null, bool, long, double, string, byte[], object?[] (tuples),
/// List&lt;object?&gt;, <see cref="PickleDict"/>, <see cref="PickleGlobal"/>, and through the callbacks
/// storages and tensors. The only calls it performs are the four a state dict needs
/// (collections.OrderedDict(), torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter, and a
/// torch.*Storage type in a persistent id), each emulated here; any other global is an inert name that
/// is refused, named, the moment the pickle would call or build it. Lengths are checked against the
/// bytes that remain before anything is allocated, and nesting is bounded, so a hostile or damaged
/// pickle ends in one <see cref="PytorchFormatException"/>.
/// </summary>
internal sealed class RestrictedUnpickler
{
    private const int MaxNesting = 1000;
    private const int MaxLine = 256;
    private const int HighestProtocol = 5;

    private readonly Stream _input;
    private readonly string _file;
    private readonly Func<object?, object> _persistentLoad;
    private readonly List<object?> _stack = [];
    private readonly Stack<int> _marks = new();
    private readonly Dictionary<long, object?> _memo = [];
    private long _opcodeAt;

    /// <param name="input">A seekable stream positioned at the pickle; it is left just after STOP.</param>
    /// <param name="file">The file's name, for messages.</param>
    /// <param name="persistentLoad">Turns a persistent id (BINPERSID) into a storage.</param>
    public RestrictedUnpickler(Stream input, string file, Func<object?, object> persistentLoad)
    {
        _input = input;
        _file = file;
        _persistentLoad = persistentLoad;
    }

    public Exception Bad(string what) => new PytorchFormatException($"{_file}: {what}");

    private Exception Malformed(string what) => Bad($"not a valid PyTorch pickle: {what} (byte {_opcodeAt})");

    private static Exception Refused(string file, PickleGlobal g, string how) =>
        new PytorchFormatException($"{file}: refused: the pickle {how} {g.FullName}, which a state dict does not need (nothing was run)");

    public object? Load()
    {
        while (true)
        {
            _opcodeAt = _input.Position;
            byte op = ReadByte();
            switch (op)
            {
                case 0x80: // PROTO
                    int protocol = ReadByte();
                    if (protocol > HighestProtocol) throw Malformed($"pickle protocol {protocol} is newer than {HighestProtocol}");
                    break;
                case 0x95: ReadFixed(8); break; // FRAME: a length hint; the frame's opcodes follow inline
                case (byte)'.': return Pop(); // STOP
                case (byte)'(': // MARK
                    if (_marks.Count >= MaxNesting) throw Malformed($"nested deeper than {MaxNesting} levels");
                    _marks.Push(_stack.Count);
                    break;
                case (byte)'0': Pop(); break; // POP
                case (byte)'1': PopMark(); break; // POP_MARK
                case (byte)'2': Push(Peek()); break; // DUP

                case (byte)'N': Push(null); break;
                case 0x88: Push(true); break;
                case 0x89: Push(false); break;
                case (byte)'J': Push((long)BinaryPrimitives.ReadInt32LittleEndian(ReadFixed(4))); break; // BININT
                case (byte)'K': Push((long)ReadByte()); break; // BININT1
                case (byte)'M': Push((long)BinaryPrimitives.ReadUInt16LittleEndian(ReadFixed(2))); break; // BININT2
                case 0x8a: Push(ReadLong(ReadByte())); break; // LONG1
                case 0x8b: Push(ReadLong(ReadLength(4))); break; // LONG4
                case (byte)'G': Push(BinaryPrimitives.ReadDoubleBigEndian(ReadFixed(8))); break; // BINFLOAT
                case (byte)'I': Push(ParseTextInt(ReadLine())); break; // INT
                case (byte)'L': Push(ParseTextLong(ReadLine())); break; // LONG
                case (byte)'F': Push(ParseTextFloat(ReadLine())); break; // FLOAT

                case (byte)'X': Push(Encoding.UTF8.GetString(ReadFixed(ReadLength(4)))); break; // BINUNICODE
                case 0x8c: Push(Encoding.UTF8.GetString(ReadFixed(ReadByte()))); break; // SHORT_BINUNICODE
                case 0x8d: Push(Encoding.UTF8.GetString(ReadFixed(ReadLength(8)))); break; // BINUNICODE8
                case (byte)'T': Push(Encoding.Latin1.GetString(ReadFixed(ReadLength(4)))); break; // BINSTRING
                case (byte)'U': Push(Encoding.Latin1.GetString(ReadFixed(ReadByte()))); break; // SHORT_BINSTRING
                case (byte)'B': Push(ReadFixed(ReadLength(4))); break; // BINBYTES
                case (byte)'C': Push(ReadFixed(ReadByte())); break; // SHORT_BINBYTES
                case 0x8e: Push(ReadFixed(ReadLength(8))); break; // BINBYTES8

                case (byte)')': Push(Array.Empty<object?>()); break; // EMPTY_TUPLE
                case 0x85: Push(new[] { Pop() }); break; // TUPLE1
                case 0x86: { var b = Pop(); var a = Pop(); Push(new[] { a, b }); break; } // TUPLE2
                case 0x87: { var c = Pop(); var b = Pop(); var a = Pop(); Push(new[] { a, b, c }); break; } // TUPLE3
                case (byte)'t': Push(PopMark().ToArray()); break; // TUPLE
                case (byte)']': Push(new List<object?>()); break; // EMPTY_LIST
                case (byte)'l': Push(PopMark()); break; // LIST
                case (byte)'a': { var v = Pop(); PeekList().Add(v); break; } // APPEND
                case (byte)'e': { var items = PopMark(); PeekList().AddRange(items); break; } // APPENDS
                case (byte)'}': Push(new PickleDict()); break; // EMPTY_DICT
                case (byte)'d': { var dict = new PickleDict(); SetItems(dict, PopMark()); Push(dict); break; } // DICT
                case (byte)'s': { var v = Pop(); var k = Pop(); PeekDict().Set(k, v); break; } // SETITEM
                case (byte)'u': { var items = PopMark(); SetItems(PeekDict(), items); break; } // SETITEMS

                case (byte)'q': Memoize(ReadByte()); break; // BINPUT
                case (byte)'r': Memoize(BinaryPrimitives.ReadUInt32LittleEndian(ReadFixed(4))); break; // LONG_BINPUT
                case (byte)'p': Memoize(ParseIndex(ReadLine())); break; // PUT
                case 0x94: Memoize(_memo.Count); break; // MEMOIZE
                case (byte)'h': Push(Recall(ReadByte())); break; // BINGET
                case (byte)'j': Push(Recall(BinaryPrimitives.ReadUInt32LittleEndian(ReadFixed(4)))); break; // LONG_BINGET
                case (byte)'g': Push(Recall(ParseIndex(ReadLine()))); break; // GET

                case (byte)'c': // GLOBAL
                {
                    string module = ReadLine(), name = ReadLine();
                    Push(new PickleGlobal(module, name));
                    break;
                }
                case 0x93: // STACK_GLOBAL
                {
                    if (Pop() is not string name || Pop() is not string module) throw Malformed("STACK_GLOBAL needs two strings");
                    Push(new PickleGlobal(module, name));
                    break;
                }
                case (byte)'R': { var args = Pop(); var callable = Pop(); Push(Reduce(callable, args)); break; } // REDUCE
                case (byte)'b': { var state = Pop(); Build(Peek(), state); break; } // BUILD
                case (byte)'Q': Push(_persistentLoad(Pop())); break; // BINPERSID
                case 0x81: case 0x92: // NEWOBJ, NEWOBJ_EX
                {
                    if (op == 0x92) Pop();
                    Pop();
                    throw Pop() is PickleGlobal g ? Refused(_file, g, "instantiates") : Malformed("NEWOBJ on a value that is not a class");
                }
                default:
                    throw Malformed($"opcode 0x{op:x2} ({OpcodeName(op)}) is not one a state dict needs");
            }
        }
    }

    private static string OpcodeName(byte op) => op switch
    {
        (byte)'i' => "INST",
        (byte)'o' => "OBJ",
        (byte)'P' => "PERSID",
        (byte)'S' => "STRING",
        (byte)'V' => "UNICODE",
        0x82 or 0x83 or 0x84 => "EXT",
        0x8f => "EMPTY_SET",
        0x90 => "ADDITEMS",
        0x91 => "FROZENSET",
        0x96 => "BYTEARRAY8",
        0x97 => "NEXT_BUFFER",
        0x98 => "READONLY_BUFFER",
        _ => "unknown",
    };

    private object Reduce(object? callable, object? args)
    {
        if (callable is not PickleGlobal g) throw Malformed($"REDUCE on a {Describe(callable)}, not a global");
        if (args is not object?[] a) throw Malformed($"REDUCE of {g.FullName} with a {Describe(args)} as arguments");
        switch (g.Kind)
        {
            case PickleGlobalKind.OrderedDict:
                if (a.Length != 0) throw Malformed("collections.OrderedDict called with arguments (torch.save builds it empty)");
                return new PickleDict();
            case PickleGlobalKind.RebuildTensorV2:
                return RebuildTensor(a);
            case PickleGlobalKind.RebuildParameter:
                // _rebuild_parameter(data, requires_grad, backward_hooks): the parameter is its data.
                if (a.Length != 3 || a[0] is not PytorchTensor data) throw Malformed("_rebuild_parameter needs (tensor, requires_grad, hooks)");
                return data;
            default:
                throw Refused(_file, g, "calls");
        }
    }

    /// <summary>_rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata]).</summary>
    private PytorchTensor RebuildTensor(object?[] a)
    {
        if (a.Length is not (6 or 7) || a[0] is not PytorchStorage storage || a[1] is not long offset
            || a[2] is not object?[] sizes || a[3] is not object?[] strides || a[4] is not bool)
            throw Malformed("_rebuild_tensor_v2 needs (storage, offset, size, stride, requires_grad, hooks)");
        if (a[5] is not PickleDict hooks || hooks.Items.Count != 0) throw Malformed("a tensor with backward hooks");
        return PytorchTensor.Create(storage, offset, Integers(sizes, "size"), Integers(strides, "stride"), Bad);
    }

    private long[] Integers(object?[] values, string what) =>
        values.Select(v => v is long l ? l : throw Malformed($"a tensor {what} that is not an integer")).ToArray();

    private void Build(object? target, object? state)
    {
        // OrderedDict's state is its instance attributes (a state dict's "_metadata" of module versions): not needed.
        if (target is PickleDict) return;
        if (target is PickleGlobal g) throw Refused(_file, g, "builds");
        throw Malformed($"BUILD on a {Describe(target)} with a {Describe(state)}");
    }

    private void SetItems(PickleDict dict, List<object?> items)
    {
        if (items.Count % 2 != 0) throw Malformed("a dict with an odd number of keys and values");
        for (int i = 0; i < items.Count; i += 2) dict.Set(items[i], items[i + 1]);
    }

    /// <summary>What a value is, without looking inside it (values may nest deeply or refer to themselves).</summary>
    public static string Describe(object? v) => v switch
    {
        null => "None",
        bool => "bool",
        long => "int",
        double => "float",
        string => "str",
        byte[] => "bytes",
        object?[] => "tuple",
        List<object?> => "list",
        PickleDict => "dict",
        PickleGlobal g => g.FullName,
        PytorchStorage => "storage",
        PytorchTensor => "tensor",
        _ => v.GetType().Name,
    };

    private void Push(object? v) => _stack.Add(v);

    private object? Pop()
    {
        int floor = _marks.Count > 0 ? _marks.Peek() : 0;
        if (_stack.Count <= floor) throw Malformed("stack underflow");
        var v = _stack[^1];
        _stack.RemoveAt(_stack.Count - 1);
        return v;
    }

    private object? Peek()
    {
        int floor = _marks.Count > 0 ? _marks.Peek() : 0;
        if (_stack.Count <= floor) throw Malformed("stack underflow");
        return _stack[^1];
    }

    private List<object?> PeekList() => Peek() as List<object?> ?? throw Malformed($"APPEND to a {Describe(Peek())}");
    private PickleDict PeekDict() => Peek() as PickleDict ?? throw Malformed($"SETITEM on a {Describe(Peek())}");

    private List<object?> PopMark()
    {
        if (_marks.Count == 0) throw Malformed("no MARK to pop to");
        int at = _marks.Pop();
        var items = _stack.GetRange(at, _stack.Count - at);
        _stack.RemoveRange(at, _stack.Count - at);
        return items;
    }

    private void Memoize(long index) => _memo[index] = Peek();

    private object? Recall(long index) => _memo.TryGetValue(index, out var v) ? v : throw Malformed($"memo entry {index} was never stored");

    private byte ReadByte()
    {
        int b = _input.ReadByte();
        return b < 0 ? throw Malformed("the pickle ends early") : (byte)b;
    }

    private long Remaining => _input.Length - _input.Position;

    /// <summary>A little-endian length of <paramref name="bytes"/> bytes, refused when more than what remains.</summary>
    private int ReadLength(int bytes)
    {
        var raw = ReadFixed(bytes);
        ulong length = bytes == 4 ? BinaryPrimitives.ReadUInt32LittleEndian(raw) : BinaryPrimitives.ReadUInt64LittleEndian(raw);
        if (length > (ulong)Remaining || length > int.MaxValue) throw Malformed($"a length of {length} bytes where {Remaining} remain");
        return (int)length;
    }

    private byte[] ReadFixed(int count)
    {
        if (count > Remaining) throw Malformed("the pickle ends early");
        var bytes = new byte[count];
        _input.ReadExactly(bytes);
        return bytes;
    }

    private string ReadLine()
    {
        var line = new StringBuilder();
        while (true)
        {
            byte b = ReadByte();
            if (b == (byte)'\n') return line.ToString();
            if (b < 0x20 || b > 0x7e || line.Length >= MaxLine) throw Malformed("a text argument that is not a short line of ASCII");
            line.Append((char)b);
        }
    }

    /// <summary>LONG1/LONG4: a little-endian two's-complement integer; state dicts hold nothing above 64 bits.</summary>
    private long ReadLong(int length)
    {
        if (length > 8) throw Malformed($"an integer of {length} bytes (at most 8 are supported)");
        var raw = ReadFixed(length);
        if (length == 0) return 0;
        long value = (sbyte)raw[length - 1]; // sign-extends the top byte
        for (int i = length - 2; i >= 0; i--) value = (value << 8) | raw[i];
        return value;
    }

    private object ParseTextInt(string line) => line switch
    {
        "00" => false,
        "01" => true,
        _ => long.TryParse(line, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long v) ? v : throw Malformed($"INT '{line}'"),
    };

    private long ParseTextLong(string line) =>
        long.TryParse(line.TrimEnd('L'), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long v) ? v : throw Malformed($"LONG '{line}'");

    private double ParseTextFloat(string line) =>
        double.TryParse(line, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) ? v : throw Malformed($"FLOAT '{line}'");

    private long ParseIndex(string line) =>
        long.TryParse(line, NumberStyles.None, CultureInfo.InvariantCulture, out long v) ? v : throw Malformed($"memo index '{line}'");
}
