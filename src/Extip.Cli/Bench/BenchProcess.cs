using System.Diagnostics;
using System.Globalization;

namespace Extip.Cli.Bench;

/// <summary>An extip child process of a benchmark: started, its peak RSS and CPU read from /proc, stopped.</summary>
internal sealed class BenchProcess : IAsyncDisposable
{
    private readonly Process _process;

    private BenchProcess(Process p) => _process = p;

    public int Id => _process.Id;

    public static BenchProcess Start(params string[] args)
    {
        var dll = typeof(BenchProcess).Assembly.Location;
        var info = new ProcessStartInfo("dotnet", [dll, .. args]) { RedirectStandardOutput = true, RedirectStandardError = true };
        RuntimeTuning.Apply(args.FirstOrDefault(), info.Environment);
        return new BenchProcess(Process.Start(info)!);
    }

    /// <summary>Starts another binary (the image's extip) with its output drained.</summary>
    public static BenchProcess StartFile(string file, params string[] args) => StartFile(file, new Dictionary<string, string>(), args);

    /// <summary>Runs <paramref name="file"/> with <paramref name="env"/> added to its environment.</summary>
    public static BenchProcess StartFile(string file, IReadOnlyDictionary<string, string> env, params string[] args)
    {
        var info = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true };
        RuntimeTuning.Apply(args.FirstOrDefault(), info.Environment);
        foreach (var (name, value) in env)
        {
            info.Environment[name] = value;
        }

        var b = new BenchProcess(Process.Start(info)!);
        b.DrainOutput();
        return b;
    }

    public bool HasExited => _process.HasExited;

    /// <summary>Resident set size now (VmRSS), in MB.</summary>
    public double RssMb() => StatusMb("VmRSS:");

    /// <summary>Reads stdout until a line contains <paramref name="marker"/>; the rest is drained in the background.</summary>
    public async Task<string> WaitForAsync(string marker, CancellationToken ct)
    {
        while (await _process.StandardOutput.ReadLineAsync(ct) is { } line)
        {
            if (line.Contains(marker, StringComparison.Ordinal))
            {
                _ = _process.StandardOutput.ReadToEndAsync(ct);
                _ = _process.StandardError.ReadToEndAsync(ct);
                return line;
            }
        }

        throw new InvalidOperationException("the process ended before saying: " + marker + "\n" + await _process.StandardError.ReadToEndAsync(ct));
    }

    public void DrainOutput()
    {
        _ = _process.StandardOutput.ReadToEndAsync();
        _ = _process.StandardError.ReadToEndAsync();
    }

    public double PeakRssMb() => StatusMb("VmHWM:");

    /// <summary>Where the resident memory is: anonymous (heaps, stacks, the runtime's data) and file pages (the binary, libraries).</summary>
    public string RssBreakdown() => string.Create(CultureInfo.InvariantCulture, $"{StatusMb("RssAnon:")} MB anonymous, {StatusMb("RssFile:")} MB of files");

    private double StatusMb(string field)
    {
        foreach (var line in File.ReadLines($"/proc/{Id}/status"))
        {
            if (line.StartsWith(field, StringComparison.Ordinal))
            {
                return Math.Round(long.Parse(line.AsSpan(field.Length).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture) / 1024.0, 1);
            }
        }

        return double.NaN;
    }

    public double CpuSeconds()
    {
        var stat = File.ReadAllText($"/proc/{Id}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }
}
