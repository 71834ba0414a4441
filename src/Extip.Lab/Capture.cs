using System.Diagnostics;
using System.Globalization;

namespace Extip.Lab;

/// <summary>A tshark capture on one interface of a site's namespace, read back with tshark's dissectors.</summary>
public sealed class Capture : IAsyncDisposable
{
    private readonly Process _process;
    private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<string> _output = [];

    private Capture(Site site, string ns, string iface, string filter, string file)
    {
        File = file;
        _process = site.Start(ns, "tshark", ["-q", "-n", "-i", iface, "-f", filter, "-w", file], output: line =>
        {
            lock (_output)
            {
                _output.Add(line);
            }

            if (line.Contains("Capturing on", StringComparison.Ordinal))
            {
                _started.TrySetResult();
            }
        });
    }

    public string File { get; }

    /// <summary>tshark "decode as" rules for reading, such as <c>tcp.port==1790,bgp</c> (BGP on another port).</summary>
    public List<string> DecodeAs { get; } = [];

    /// <summary>Starts capturing (a capture filter in pcap syntax) and returns once tshark says it captures.</summary>
    public static async Task<Capture> StartAsync(Site site, string ns, string iface, string filter)
    {
        ArgumentNullException.ThrowIfNull(site);
        var file = Path.Combine(site.WorkDir, $"capture-{Guid.NewGuid():N}.pcapng");
        var c = new Capture(site, ns, iface, filter, file);
        if (await Task.WhenAny(c._started.Task, Task.Delay(TimeSpan.FromSeconds(20))).ConfigureAwait(false) != c._started.Task)
        {
            throw new LabException($"tshark did not start capturing on {iface} in {ns}: {c.Output}");
        }

        // tshark says so a little before dumpcap has its filter on the interface.
        await Task.Delay(500).ConfigureAwait(false);
        return c;
    }

    public string Output
    {
        get
        {
            lock (_output)
            {
                return string.Join('\n', _output);
            }
        }
    }

    /// <summary>Stops the capture the way ^C does, so that the file is complete.</summary>
    public async Task StopAsync()
    {
        if (!_process.HasExited)
        {
            // dumpcap reads the interface in batches: give it time to take the last packets in.
            await Task.Delay(1000).ConfigureAwait(false);
            Shell.Run("kill", ["-INT", _process.Id.ToString(CultureInfo.InvariantCulture)], check: false);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await _process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
        }
    }

    /// <summary>The fields of every packet that matches the display filter, one tab-separated line per packet.</summary>
    public IReadOnlyList<string> Fields(string displayFilter, params string[] fields)
    {
        var args = new List<string> { "-r", File, "-n", "-Y", displayFilter, "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=," };
        foreach (var d in DecodeAs)
        {
            args.Add("-d");
            args.Add(d);
        }

        foreach (var f in fields)
        {
            args.Add("-e");
            args.Add(f);
        }

        return Shell.Run("tshark", args).Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _process.Dispose();
    }
}
