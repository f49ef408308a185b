using System.Globalization;

namespace Vicreg.Training;

/// <summary>
/// The memory a new allocation can still get: /proc/meminfo's MemAvailable, or what the process's cgroup
/// still allows (its limit minus its use, cgroup v2 or v1) when that is lower. Null where neither is readable.
/// </summary>
public static class AvailableMemory
{
    public static (long? Bytes, string Source) Read()
    {
        long? meminfo = MemAvailable();
        long? cgroup = CgroupRoom();
        if (cgroup is not null && (meminfo is null || cgroup < meminfo)) return (cgroup, "the cgroup's memory limit less its use");
        return (meminfo, "MemAvailable in /proc/meminfo");
    }

    private static long? MemAvailable()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/meminfo"))
                if (line.StartsWith("MemAvailable:", StringComparison.Ordinal))
                    return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException) { }
        return null;
    }

    private static long? CgroupRoom()
    {
        foreach (var (limit, usage) in new[] { ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                                               ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes") })
        {
            try
            {
                if (!File.Exists(limit)) continue;
                // "max" (v2) or a huge number (v1) means no limit.
                if (!long.TryParse(File.ReadAllText(limit).Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out long max) || max >= 1L << 60) return null;
                long used = long.Parse(File.ReadAllText(usage).Trim(), CultureInfo.InvariantCulture);
                return Math.Max(0, max - used);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException) { }
        }
        return null;
    }
}
