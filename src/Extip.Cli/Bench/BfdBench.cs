using System.Globalization;
using Extip.Bgp.Bfd;
using Extip.Lab.Load;
using Microsoft.Extensions.Logging.Abstractions;

namespace Extip.Cli.Bench;

/// <summary>
/// <c>extip bench bfd</c>: FRR's bfdd as the router, extip's BFD on N nodes, at 50 ms × 3 and
/// then 100 ms × 3, each left alone for a while: every Up→Down is a false one (nothing failed).
/// With <c>--load</c> the machine is made busy meanwhile (a spinning process per core, and this
/// process, which runs extip's side, niced to 19). Then the router goes silent a few times at
/// 50 ms × 3 and the time until each of our sessions is Down is taken.
/// </summary>
internal static class BfdBench
{
    public static async Task<int> RunAsync(bool load, bool realTime, bool inProcess, double seconds, int nodes, int hogs, int nice, int silences, TextWriter output, CancellationToken ct)
    {
        if (Environment.UserName != "root")
        {
            await output.WriteLineAsync("bench bfd: needs root (network namespaces)").ConfigureAwait(false);
            return 1;
        }

        var fields = new Dictionary<string, object> { ["bench"] = "bfd", ["load"] = load, ["nodes"] = nodes, ["secondsEach"] = seconds, ["hogs"] = load ? hogs : 0, ["nice"] = load ? nice : 0, ["realTime"] = realTime, ["transmitWorker"] = !inProcess };
        var transmit = inProcess ? null : BfdTransmitCommand.Self(Commands.BfdTransmitCommandLine.Dll);
        List<double> detect = [];
        foreach (var ms in new[] { 50, 100 })
        {
            await using var rig = await BfdRig.StartAsync(nodes, TimeSpan.FromMilliseconds(ms), 3, NullLoggerFactory.Instance, realTime, transmit, ct: ct).ConfigureAwait(false);
            await rig.WaitAllUpAsync(TimeSpan.FromSeconds(30), ct).ConfigureAwait(false);
            var ourBefore = rig.OurDowns;
            var peerBefore = await rig.PeerDownsAsync(ct).ConfigureAwait(false);
            var loadBefore = LoadAverage();
            var gcBefore = GC.CollectionCount(0);
            var pauseBefore = GC.GetTotalPauseDuration();
            var allocatedBefore = GC.GetTotalAllocatedBytes();
            var bfdAllocatedBefore = rig.AllocatedBytes;
            var lapsesBefore = rig.TransmitLapses;
            using (load ? CpuLoad.Start(rig.Site, hogs, nice) : null)
            {
                await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"{ms} ms x 3, {nodes} sessions, BFD threads: {rig.Scheduling}, periodic packets from {(inProcess ? "this process" : "transmit workers")} ({rig.TransmitScheduling}), {seconds} s{(load ? $", {hogs} spinning processes, extip's side at nice {nice}" : string.Empty)}")).ConfigureAwait(false);
                await Task.Delay(TimeSpan.FromSeconds(seconds), ct).ConfigureAwait(false);
                var ours = rig.OurDowns - ourBefore;
                var peers = await rig.PeerDownsAsync(ct).ConfigureAwait(false) - peerBefore;
                foreach (var e in rig.Events)
                {
                    await output.WriteLineAsync("  ours: " + e).ConfigureAwait(false);
                }

                var gcs = GC.CollectionCount(0) - gcBefore;
                var pause = (GC.GetTotalPauseDuration() - pauseBefore).TotalMilliseconds;
                var allocated = (GC.GetTotalAllocatedBytes() - allocatedBefore) / seconds;
                var bfdAllocated = (rig.AllocatedBytes - bfdAllocatedBefore) / seconds;
                await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"  false Downs: ours {ours}, FRR's {peers}; load average {loadBefore} -> {LoadAverage()}; this process: {gcs} garbage collections, {pause:F0} ms paused{(inProcess ? string.Empty : $", transmit workers' leases lapsed {rig.TransmitLapses - lapsesBefore} times")}, {allocated / 1024:F1} KiB/s allocated, {bfdAllocated / 1024:F2} KiB/s by the BFD threads")).ConfigureAwait(false);
                fields[$"allocatedKiBPerSec{ms}"] = Math.Round(allocated / 1024, 1);
                fields[$"bfdThreadsAllocatedKiBPerSec{ms}"] = Math.Round(bfdAllocated / 1024, 2);
                fields[$"gcCount{ms}"] = gcs;
                if (!inProcess)
                {
                    // The workers stop sending when this process was silent a whole lease (3 s).
                    fields[$"transmitLeaseLapses{ms}"] = rig.TransmitLapses - lapsesBefore;
                }

                fields[$"gcPauseMs{ms}"] = Math.Round(pause, 1);
                fields[$"falseDowns{ms}"] = ours;
                fields[$"falseDownsPerHour{ms}"] = Math.Round(ours * 3600 / seconds, 1);
                fields[$"peerFalseDownsPerHour{ms}"] = Math.Round(peers * 3600 / seconds, 1);
                fields[$"loadAverage{ms}"] = LoadAverage();

                if (ms == 50)
                {
                    for (var i = 0; i < silences; i++)
                    {
                        var times = await rig.SilenceAsync(TimeSpan.FromSeconds(10), ct).ConfigureAwait(false);
                        detect.AddRange(times.Select(t => t.Ms));
                        await output.WriteLineAsync($"  router silent: ours Down after {string.Join(", ", times.Select(t => t.Ms.ToString("F0", CultureInfo.InvariantCulture)))} ms").ConfigureAwait(false);
                        await rig.WaitAllUpAsync(TimeSpan.FromSeconds(30), ct).ConfigureAwait(false);
                    }
                }
            }
        }

        detect.Sort();
        if (detect.Count > 0)
        {
            // JSON has no NaN: without silences (--silences 0) there is no detection figure.
            fields["detectMs50"] = Math.Round(detect[detect.Count / 2], 1);
            fields["detectMsMax50"] = Math.Round(detect[^1], 1);
        }

        fields["detectSamples50"] = detect.Count;
        BenchResult.Print(output, fields);
        return 0;
    }

    private static double LoadAverage() =>
        double.Parse(File.ReadAllText("/proc/loadavg").Split(' ')[0], CultureInfo.InvariantCulture);
}
