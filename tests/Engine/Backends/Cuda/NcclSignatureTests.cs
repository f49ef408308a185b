using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using Vicreg.Engine.Backends.Cuda.Native;

namespace Vicreg.Tests.Engine.Backends.Cuda;

/// <summary>
/// Our NCCL bindings against nccl.h's prototypes (NCCL 2.18–2.21, copied by hand from the header text, as no
/// header is installed here): every [LibraryImport] has the header's parameter kinds in order (a pointer or
/// handle, an int or enum, a size_t, the 128-byte ncclUniqueId by value) and return kind. The collectives'
/// size_t counts and the id passed by value are what a wrong binding would silently get wrong.
/// </summary>
public partial class NcclSignatureTests
{
    private const string Header = """
        ncclResult_t ncclGetVersion(int *version);
        ncclResult_t ncclGetUniqueId(ncclUniqueId* uniqueId);
        ncclResult_t ncclCommInitRank(ncclComm_t* comm, int nranks, ncclUniqueId commId, int rank);
        ncclResult_t ncclCommDestroy(ncclComm_t comm);
        ncclResult_t ncclCommAbort(ncclComm_t comm);
        ncclResult_t ncclCommGetAsyncError(ncclComm_t comm, ncclResult_t *asyncError);
        const char* ncclGetErrorString(ncclResult_t result);
        ncclResult_t ncclAllReduce(const void* sendbuff, void* recvbuff, size_t count, ncclDataType_t datatype, ncclRedOp_t op, ncclComm_t comm, cudaStream_t stream);
        ncclResult_t ncclAllGather(const void* sendbuff, void* recvbuff, size_t sendcount, ncclDataType_t datatype, ncclComm_t comm, cudaStream_t stream);
        ncclResult_t ncclReduceScatter(const void* sendbuff, void* recvbuff, size_t recvcount, ncclDataType_t datatype, ncclRedOp_t op, ncclComm_t comm, cudaStream_t stream);
        ncclResult_t ncclBroadcast(const void* sendbuff, void* recvbuff, size_t count, ncclDataType_t datatype, int root, ncclComm_t comm, cudaStream_t stream);
        ncclResult_t ncclGroupStart();
        ncclResult_t ncclGroupEnd();
        """;

    private static string CKind(string type)
    {
        type = Regex.Replace(type.Replace("const ", ""), @"\s+", " ").Trim();
        if (type.Contains('*') || type is "ncclComm_t" or "cudaStream_t") return "ptr";
        return type switch
        {
            "int" or "ncclResult_t" or "ncclDataType_t" or "ncclRedOp_t" => "int",
            "size_t" => "size_t",
            "ncclUniqueId" => "id",
            _ => throw new InvalidOperationException($"unknown C type {type}"),
        };
    }

    private static string ManagedKind(Type t) =>
        t == typeof(int) ? "int" : t == typeof(nuint) ? "size_t" : t == typeof(Nccl.UniqueId) ? "id" : t == typeof(nint) || t.IsPointer ? "ptr" : t.Name;

    [Fact]
    public void Every_import_has_the_header_prototype()
    {
        var prototypes = Prototype().Matches(Header).ToDictionary(m => m.Groups[2].Value, m =>
        {
            string parameters = m.Groups[3].Value.Trim();
            var kinds = parameters.Length == 0 ? [] : parameters.Split(',').Select(p => CKind(Regex.Replace(p.Trim(), @"\w+$", ""))).ToArray();
            return (Return: CKind(m.Groups[1].Value), Parameters: kinds);
        });
        var imports = typeof(Nccl).GetMethods(BindingFlags.Public | BindingFlags.Static)
            .Where(m => m.GetCustomAttribute<LibraryImportAttribute>() is not null).ToList();
        Assert.Equal(prototypes.Keys.Order(StringComparer.Ordinal), imports.Select(m => m.GetCustomAttribute<LibraryImportAttribute>()!.EntryPoint!).Order(StringComparer.Ordinal));
        foreach (var m in imports)
        {
            var (ret, parameters) = prototypes[m.GetCustomAttribute<LibraryImportAttribute>()!.EntryPoint!];
            var actual = m.GetParameters().Select(p => ManagedKind(p.ParameterType)).ToArray();
            Assert.True(parameters.SequenceEqual(actual), $"{m.Name}: nccl.h has ({string.Join(", ", parameters)}), we bind ({string.Join(", ", actual)})");
            Assert.Equal(ret, ManagedKind(m.ReturnType));
        }
    }

    [GeneratedRegex(@"^\s*((?:const )?\w+\*?)\s+(nccl\w+)\(([^)]*)\);", RegexOptions.Multiline)]
    private static partial Regex Prototype();
}
