using System.Runtime.InteropServices;
using Vicreg.Engine.Backends.Cuda.Native;

namespace Vicreg.Engine.Backends.Cuda;

/// <summary>One GPU as the driver reports it.</summary>
public sealed record CudaDeviceInfo(int Ordinal, string Name, int ComputeMajor, int ComputeMinor, int Multiprocessors, long TotalBytes)
{
    public int Architecture => ComputeMajor * 10 + ComputeMinor;
}

/// <summary>What is installed: each library (loaded file name and version, or why not), the driver version
/// and the devices. Probing never throws: it is what `vicreg devices` prints and what device selection reads.</summary>
public sealed record CudaProbeReport(
    IReadOnlyList<(CudaLibrary Library, string? LoadedName, string Detail)> Libraries,
    string? DriverVersion, IReadOnlyList<CudaDeviceInfo> Devices, string? DriverProblem)
{
    /// <summary>Null when the backend can be created; otherwise the precise reason it cannot.</summary>
    public string? Unavailable =>
        DriverProblem ?? (Devices.Count == 0 ? "the driver reports no CUDA device" :
        Libraries.Where(l => l.LoadedName is null && l.Library is CudaLibrary.Nvrtc or CudaLibrary.Cublas)
                 .Select(l => $"{CudaLibraries.DisplayName(l.Library)}: {l.Detail}").FirstOrDefault());
}

public static unsafe class CudaProbe
{
    public static CudaProbeReport Run()
    {
        var libraries = new List<(CudaLibrary, string?, string)>();
        foreach (var library in Enum.GetValues<CudaLibrary>())
        {
            string? loaded = CudaLibraries.LoadedName(library);
            string detail;
            if (loaded is null) detail = CudaLibraries.NotFoundMessage(library);
            else
            {
                try { detail = Version(library) ?? "loaded"; }
                catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException or CudaException) { detail = $"unusable: {e.Message}"; }
            }
            libraries.Add((library, loaded, detail));
        }

        var devices = new List<CudaDeviceInfo>();
        string? driverVersion = null, problem = null;
        if (!CudaLibraries.TryLoad(CudaLibrary.Driver, out _))
        {
            problem = CudaLibraries.NotFoundMessage(CudaLibrary.Driver);
            return new CudaProbeReport(libraries, null, devices, problem);
        }
        try
        {
            int version;
            if (CudaDriver.cuDriverGetVersion(&version) == CudaDriver.Success)
                driverVersion = $"{version / 1000}.{version % 1000 / 10}";
            int status = CudaDriver.cuInit(0);
            if (status != CudaDriver.Success)
            {
                problem = $"cuInit failed: {CudaDriver.ErrorName(status)}";
                return new CudaProbeReport(libraries, driverVersion, devices, problem);
            }
            int count;
            CudaDriver.Check(CudaDriver.cuDeviceGetCount(&count), "cuDeviceGetCount");
            for (int i = 0; i < count; i++) devices.Add(Describe(i));
        }
        catch (Exception e) when (e is CudaException or EntryPointNotFoundException or DllNotFoundException)
        {
            problem = e.Message;
        }
        return new CudaProbeReport(libraries, driverVersion, devices, problem);
    }

    public static CudaDeviceInfo Describe(int ordinal)
    {
        int device, major, minor, sms;
        CudaDriver.Check(CudaDriver.cuDeviceGet(&device, ordinal), "cuDeviceGet");
        byte* name = stackalloc byte[256];
        CudaDriver.Check(CudaDriver.cuDeviceGetName(name, 256, device), "cuDeviceGetName");
        CudaDriver.Check(CudaDriver.cuDeviceGetAttribute(&major, CudaDriver.AttributeComputeCapabilityMajor, device), "cuDeviceGetAttribute");
        CudaDriver.Check(CudaDriver.cuDeviceGetAttribute(&minor, CudaDriver.AttributeComputeCapabilityMinor, device), "cuDeviceGetAttribute");
        CudaDriver.Check(CudaDriver.cuDeviceGetAttribute(&sms, CudaDriver.AttributeMultiprocessorCount, device), "cuDeviceGetAttribute");
        nuint total;
        CudaDriver.Check(CudaDriver.cuDeviceTotalMem(&total, device), "cuDeviceTotalMem_v2");
        return new CudaDeviceInfo(ordinal, Marshal.PtrToStringUTF8((nint)name) ?? "?", major, minor, sms, (long)total);
    }

    private static string? Version(CudaLibrary library) => library switch
    {
        CudaLibrary.Nvrtc => $"{Nvrtc.Version().Major}.{Nvrtc.Version().Minor}",
        CudaLibrary.Cublas => Cublas.VersionText(),
        CudaLibrary.Cudnn => Cudnn.VersionText(),
        CudaLibrary.Nccl => Nccl.VersionText(),
        _ => DriverVersionText(),
    };

    private static string? DriverVersionText()
    {
        int version;
        return CudaDriver.cuDriverGetVersion(&version) == CudaDriver.Success ? $"CUDA {version / 1000}.{version % 1000 / 10}" : null;
    }
}
