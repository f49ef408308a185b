namespace Vicreg.Engine.Backends.Cuda.Native;

/// <summary>A CUDA library call returned an error status; the message names the call and the status.</summary>
public sealed class CudaException : Exception
{
    public string Call { get; }
    public int Status { get; }

    public CudaException(string call, int status, string statusName)
        : base($"{call} failed: {statusName} ({status})")
    {
        Call = call;
        Status = status;
    }

    public CudaException(string message) : base(message)
    {
        Call = "";
    }
}

/// <summary>The device ran out of memory: says how much was asked and how much the device has free.</summary>
public sealed class CudaOutOfMemoryException : OutOfMemoryException
{
    public CudaOutOfMemoryException(string message) : base(message) { }
}
