using System.Buffers.Binary;
using System.Text;

namespace Vicreg.Tests.Engine.Backends.Cuda;

/// <summary>Reads function names from the symbol table of an ELF64 little-endian file (a CUBIN is one).</summary>
internal static class ElfSymbols
{
    private const int SectionSymbolTable = 2; // SHT_SYMTAB
    private const int SymbolFunction = 2;     // STT_FUNC

    public static HashSet<string> FunctionNames(ReadOnlySpan<byte> elf)
    {
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
            throw new InvalidDataException("not an ELF file");
        if (elf[4] != 2 || elf[5] != 1) throw new InvalidDataException("not a 64-bit little-endian ELF file");
        long sectionTable = (long)BinaryPrimitives.ReadUInt64LittleEndian(elf[0x28..]);
        int sectionSize = BinaryPrimitives.ReadUInt16LittleEndian(elf[0x3A..]);
        int sectionCount = BinaryPrimitives.ReadUInt16LittleEndian(elf[0x3C..]);
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (int s = 0; s < sectionCount; s++)
        {
            var header = elf.Slice(checked((int)(sectionTable + s * sectionSize)), sectionSize);
            if (BinaryPrimitives.ReadUInt32LittleEndian(header[4..]) != SectionSymbolTable) continue;
            long offset = (long)BinaryPrimitives.ReadUInt64LittleEndian(header[0x18..]);
            long size = (long)BinaryPrimitives.ReadUInt64LittleEndian(header[0x20..]);
            int link = (int)BinaryPrimitives.ReadUInt32LittleEndian(header[0x28..]);
            long entrySize = (long)BinaryPrimitives.ReadUInt64LittleEndian(header[0x38..]);
            if (entrySize == 0) entrySize = 24;
            var strings = elf.Slice(checked((int)(sectionTable + link * sectionSize)), sectionSize);
            long stringsOffset = (long)BinaryPrimitives.ReadUInt64LittleEndian(strings[0x18..]);
            for (long e = 0; e < size / entrySize; e++)
            {
                var symbol = elf.Slice(checked((int)(offset + e * entrySize)), (int)entrySize);
                if ((symbol[4] & 0xf) != SymbolFunction) continue;
                int nameOffset = (int)BinaryPrimitives.ReadUInt32LittleEndian(symbol);
                var rest = elf[checked((int)(stringsOffset + nameOffset))..];
                names.Add(Encoding.UTF8.GetString(rest[..rest.IndexOf((byte)0)]));
            }
        }
        return names;
    }
}
