using System.Globalization;
using System.Text.Json;

namespace Extip.Cli.Bench;

/// <summary>Shared pieces of the benchmarks: peak RSS and the final JSON line.</summary>
internal static class BenchResult
{
    /// <summary>Peak resident set size of this process (VmHWM), in MB.</summary>
    public static double PeakRssMb()
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
            {
                var kb = long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture);
                return Math.Round(kb / 1024.0, 1);
            }
        }

        return double.NaN;
    }

    public static void Print(TextWriter output, Dictionary<string, object> fields)
    {
        output.WriteLine(JsonSerializer.Serialize(fields));
    }

    /// <summary>The JSON line with figures that may be null (not measured: said as null, never left out).</summary>
    public static void PrintWithNulls(TextWriter output, Dictionary<string, object?> fields)
    {
        output.WriteLine(JsonSerializer.Serialize(fields));
    }
}
