using System.Runtime.InteropServices;

namespace Vicreg.Engine.Distributed.Mpi;

/// <summary>
/// Our bindings to OpenMPI's C library (libmpi.so.40: OpenMPI 3.x and 4.x), checked by the tests against
/// the installed mpi.h. Handles (MPI_Comm, MPI_Datatype, MPI_Op, MPI_Errhandler) are pointers; OpenMPI's
/// predefined ones (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, …) are the addresses of exported objects, which
/// <see cref="Predefined"/> resolves by the names mpi.h's macros expand to. Every call returns an error
/// code, 0 = MPI_SUCCESS.
/// </summary>
public static unsafe partial class MpiNative
{
    public const string LibraryName = "libmpi.so.40";

    public const int Success = 0;
    public const int ThreadFunneled = 1;
    public const int MaxErrorString = 256;
    /// <summary>MPI_IN_PLACE is ((void *) 1) in OpenMPI's mpi.h.</summary>
    public static readonly nint InPlace = 1;

    public static readonly string[] EntryPoints =
    [
        "MPI_Init_thread", "MPI_Initialized", "MPI_Finalized", "MPI_Finalize", "MPI_Comm_rank", "MPI_Comm_size",
        "MPI_Comm_set_errhandler", "MPI_Allreduce", "MPI_Allgather", "MPI_Bcast", "MPI_Barrier", "MPI_Abort",
        "MPI_Error_string", "MPI_Iallreduce", "MPI_Test", "MPI_Wait",
    ];

    /// <summary>The exported objects behind the predefined handles we use.</summary>
    public static readonly string[] PredefinedSymbols =
    [
        "ompi_mpi_comm_world", "ompi_mpi_float", "ompi_mpi_double", "ompi_mpi_op_sum", "ompi_mpi_errors_return",
    ];

    [LibraryImport(LibraryName, EntryPoint = "MPI_Init_thread")]
    public static partial int MPI_Init_thread(int* argc, byte*** argv, int required, int* provided);
    [LibraryImport(LibraryName, EntryPoint = "MPI_Initialized")]
    public static partial int MPI_Initialized(int* flag);
    [LibraryImport(LibraryName, EntryPoint = "MPI_Finalized")]
    public static partial int MPI_Finalized(int* flag);
    [LibraryImport(LibraryName, EntryPoint = "MPI_Finalize")]
    public static partial int MPI_Finalize();
    [LibraryImport(LibraryName, EntryPoint = "MPI_Comm_rank")]
    public static partial int MPI_Comm_rank(nint comm, int* rank);
    [LibraryImport(LibraryName, EntryPoint = "MPI_Comm_size")]
    public static partial int MPI_Comm_size(nint comm, int* size);
    [LibraryImport(LibraryName, EntryPoint = "MPI_Comm_set_errhandler")]
    public static partial int MPI_Comm_set_errhandler(nint comm, nint errhandler);
    [LibraryImport(LibraryName, EntryPoint = "MPI_Allreduce")]
    public static partial int MPI_Allreduce(void* sendbuf, void* recvbuf, int count, nint datatype, nint op, nint comm);
    /// <summary>Starts an all-reduce and returns at once; <paramref name="request"/> receives the MPI_Request handle.</summary>
    [LibraryImport(LibraryName, EntryPoint = "MPI_Iallreduce")]
    public static partial int MPI_Iallreduce(void* sendbuf, void* recvbuf, int count, nint datatype, nint op, nint comm, nint* request);
    /// <summary>Sets <paramref name="flag"/> when the request has completed (then frees it, writing MPI_REQUEST_NULL);
    /// each call also lets MPI progress the operations in flight. <paramref name="status"/> may be MPI_STATUS_IGNORE (null).</summary>
    [LibraryImport(LibraryName, EntryPoint = "MPI_Test")]
    public static partial int MPI_Test(nint* request, int* flag, void* status);
    /// <summary>Returns once the request has completed (immediately for MPI_REQUEST_NULL), and frees it.</summary>
    [LibraryImport(LibraryName, EntryPoint = "MPI_Wait")]
    public static partial int MPI_Wait(nint* request, void* status);
    [LibraryImport(LibraryName, EntryPoint = "MPI_Allgather")]
    public static partial int MPI_Allgather(void* sendbuf, int sendcount, nint sendtype, void* recvbuf, int recvcount, nint recvtype, nint comm);
    [LibraryImport(LibraryName, EntryPoint = "MPI_Bcast")]
    public static partial int MPI_Bcast(void* buffer, int count, nint datatype, int root, nint comm);
    [LibraryImport(LibraryName, EntryPoint = "MPI_Barrier")]
    public static partial int MPI_Barrier(nint comm);
    [LibraryImport(LibraryName, EntryPoint = "MPI_Abort")]
    public static partial int MPI_Abort(nint comm, int errorcode);
    [LibraryImport(LibraryName, EntryPoint = "MPI_Error_string")]
    public static partial int MPI_Error_string(int errorcode, byte* text, int* resultlen);

    /// <summary>The address of an exported predefined object (a handle), or a clear error when the
    /// library or the symbol is missing.</summary>
    public static nint Predefined(string symbol)
    {
        if (!NativeLibrary.TryLoad(LibraryName, out nint handle))
            throw new MpiException($"MPI: cannot load {LibraryName} (install OpenMPI: bash tools/install-deps.sh)");
        if (!NativeLibrary.TryGetExport(handle, symbol, out nint address))
            throw new MpiException($"MPI: {LibraryName} exports no {symbol} (not OpenMPI 3 or 4?)");
        return address;
    }

    /// <summary>Throws an exception naming the call when <paramref name="code"/> is not MPI_SUCCESS.</summary>
    public static void Check(int code, string call)
    {
        if (code == Success) return;
        byte* text = stackalloc byte[MaxErrorString + 1];
        int length = 0;
        string message = MPI_Error_string(code, text, &length) == Success
            ? System.Text.Encoding.ASCII.GetString(text, Math.Clamp(length, 0, MaxErrorString))
            : "unknown error";
        throw new MpiException($"{call} failed: {message} (code {code})");
    }
}

/// <summary>An MPI call failed, or MPI is not installed.</summary>
public sealed class MpiException(string message) : Exception(message);
