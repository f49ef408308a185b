using System.Runtime.InteropServices;

namespace Vicreg.Engine.Backends.Cuda.Native;

/// <summary>
/// NCCL (libnccl.so.2), checked against nccl.h of NCCL 2.18+. The communicator itself is built by the
/// distributed layer; this class only binds the calls. ncclUniqueId is a 128-byte struct passed BY VALUE
/// to ncclCommInitRank. Every call returns an ncclResult_t (0 = ncclSuccess).
/// Before the first call, run <c>CudaLibraries.RequireExports(CudaLibrary.Nccl, Nccl.EntryPoints)</c>: it throws one
/// exception naming the missing file or symbol, where the runtime's own error would only name the logical library.
/// </summary>
public static unsafe partial class Nccl
{
    static Nccl() => CudaLibraries.EnsureRegistered();
    private const string Lib = CudaLibraries.NcclName;

    public const int Float32 = 7;  // ncclDataType_t ncclFloat32
    public const int Int32 = 2;    // ncclInt32
    public const int Sum = 0;      // ncclRedOp_t ncclSum
    public const int Average = 4;  // ncclAvg
    public const int InProgress = 7; // ncclInProgress (non-blocking communicators)

    [StructLayout(LayoutKind.Sequential, Size = 128)]
    public struct UniqueId
    {
        public fixed byte Internal[128];
    }

    public static readonly string[] EntryPoints =
    [
        "ncclGetVersion", "ncclGetUniqueId", "ncclCommInitRank", "ncclCommDestroy", "ncclCommAbort", "ncclCommGetAsyncError",
        "ncclGetErrorString", "ncclAllReduce", "ncclAllGather", "ncclReduceScatter", "ncclBroadcast", "ncclGroupStart", "ncclGroupEnd",
    ];

    [LibraryImport(Lib, EntryPoint = "ncclGetVersion")]
    public static partial int ncclGetVersion(int* version);
    [LibraryImport(Lib, EntryPoint = "ncclGetUniqueId")]
    public static partial int ncclGetUniqueId(UniqueId* id);
    [LibraryImport(Lib, EntryPoint = "ncclCommInitRank")]
    public static partial int ncclCommInitRank(nint* communicator, int rankCount, UniqueId id, int rank);
    [LibraryImport(Lib, EntryPoint = "ncclCommDestroy")]
    public static partial int ncclCommDestroy(nint communicator);
    [LibraryImport(Lib, EntryPoint = "ncclCommAbort")]
    public static partial int ncclCommAbort(nint communicator);
    [LibraryImport(Lib, EntryPoint = "ncclCommGetAsyncError")]
    public static partial int ncclCommGetAsyncError(nint communicator, int* asyncError);
    [LibraryImport(Lib, EntryPoint = "ncclGetErrorString")]
    public static partial byte* ncclGetErrorString(int result);
    [LibraryImport(Lib, EntryPoint = "ncclAllReduce")]
    public static partial int ncclAllReduce(nint send, nint receive, nuint count, int dataType, int op, nint communicator, nint stream);
    [LibraryImport(Lib, EntryPoint = "ncclAllGather")]
    public static partial int ncclAllGather(nint send, nint receive, nuint sendCount, int dataType, nint communicator, nint stream);
    [LibraryImport(Lib, EntryPoint = "ncclReduceScatter")]
    public static partial int ncclReduceScatter(nint send, nint receive, nuint receiveCount, int dataType, int op, nint communicator, nint stream);
    [LibraryImport(Lib, EntryPoint = "ncclBroadcast")]
    public static partial int ncclBroadcast(nint send, nint receive, nuint count, int dataType, int root, nint communicator, nint stream);
    [LibraryImport(Lib, EntryPoint = "ncclGroupStart")]
    public static partial int ncclGroupStart();
    [LibraryImport(Lib, EntryPoint = "ncclGroupEnd")]
    public static partial int ncclGroupEnd();

    public static string ErrorName(int result)
    {
        byte* s = ncclGetErrorString(result);
        return s == null ? $"ncclResult_t {result}" : Marshal.PtrToStringUTF8((nint)s) ?? $"ncclResult_t {result}";
    }

    public static void Check(int status, string call)
    {
        if (status != 0) throw new CudaException(call, status, ErrorName(status));
    }

    /// <summary>"2.21.5" from ncclGetVersion (major*10000 + minor*100 + patch since 2.9), or null when absent.</summary>
    public static string? VersionText()
    {
        if (!CudaLibraries.TryLoad(CudaLibrary.Nccl, out _)) return null;
        int v;
        if (ncclGetVersion(&v) != 0) return "unknown version";
        return v >= 10000 ? $"{v / 10000}.{v / 100 % 100}.{v % 100}" : $"{v / 1000}.{v / 100 % 10}.{v % 100}";
    }
}
