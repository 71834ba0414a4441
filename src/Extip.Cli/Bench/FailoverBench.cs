using System.Diagnostics;
using System.Globalization;
using System.Net;
using Extip.Cli.Lab;
using Extip.Core.Pools;
using Extip.Lab;
using Extip.Netlink;

namespace Extip.Cli.Bench;

/// <summary>
/// <c>extip bench failover</c>: in a lab of its own, a client probes the seed's address every
/// millisecond while the node serving it dies (freeze), then its agent is killed (SIGKILL), then
/// stopped (SIGTERM); each phase's outage is the longest time some requests failed. The peer runs
/// in the same bench: BGP without BFD (hold time 3 s), or keepalived (VRRP, advert_int 1 s) in L2.
/// </summary>
internal static class FailoverBench
{
    public static async Task<int> RunAsync(string mode, int runs, double intervalMs, string? plot, TextWriter output, CancellationToken ct)
    {
        if (Environment.UserName != "root")
        {
            await output.WriteLineAsync("bench failover: needs root (network namespaces)").ConfigureAwait(false);
            return 1;
        }

        var bgp = mode == "bgp";
        var interval = TimeSpan.FromMilliseconds(intervalMs);
        var home = new LabHome(Path.Combine(Path.GetTempPath(), $"extip-bench-failover-{Environment.ProcessId}"));
        var phases = new Dictionary<string, List<double>>(StringComparer.Ordinal) { ["freeze"] = [], ["kill"] = [], ["stop"] = [], ["peer"] = [] };
        var timelines = new List<(string Name, IReadOnlyList<ProbeSample> Samples, double FailMs)>();
        try
        {
            var spec = new LabSpec { Nodes = 3, Agents = 2, Mode = bgp ? AnnounceMode.BGP : AnnounceMode.L2, Distribution = bgp ? Distribution.All : Distribution.Balance };
            var state = await LabLauncher.UpAsync(spec, home, TextWriter.Null, ct).ConfigureAwait(false);
            var client = new Extip.Kubernetes.Client.ExtipKubernetes(Extip.Kubernetes.Client.Kubeconfig.Load(state.Kubeconfig));
            await LabObjects.CreateSeedServiceAsync(client, spec, ct).ConfigureAwait(false);
            var lab = new Phases(home, state, interval, output);
            await lab.SettleAsync(LabObjects.SeedV4, bgp ? 2 : 1, ct).ConfigureAwait(false);
            for (var run = 1; run <= runs; run++)
            {
                foreach (var how in new[] { "freeze", "kill", "stop" })
                {
                    var victim = bgp ? "k8s1" : (await LabObjects.ClaimAsync(client, LabObjects.SeedV4, ct).ConfigureAwait(false))?.Spec.Nodes.FirstOrDefault() ?? "k8s1";
                    var (ms, samples, failAt) = await lab.MeasureAsync(LabObjects.SeedV4, $"run {run} {how} {victim}",
                        () => LabLauncher.SendAsync(home, $"fail {victim} {how}", ct), ct).ConfigureAwait(false);
                    phases[how].Add(ms);
                    if (run == 1)
                    {
                        timelines.Add(($"extip {mode} {how}", samples, failAt));
                    }

                    await LabLauncher.SendAsync(home, $"heal {victim}", ct).ConfigureAwait(false);
                    await lab.SettleAsync(LabObjects.SeedV4, bgp ? 2 : 1, ct).ConfigureAwait(false);
                }
            }

            if (bgp)
            {
                // The peer: the same site, BFD off, hold time 3 s (what a BGP speaker without BFD gives).
                await LabLauncher.DownAsync(home, TextWriter.Null, ct).ConfigureAwait(false);
                var peerSpec = spec with { Bfd = false, HoldTime = 3 };
                state = await LabLauncher.UpAsync(peerSpec, home, TextWriter.Null, ct).ConfigureAwait(false);
                client = new Extip.Kubernetes.Client.ExtipKubernetes(Extip.Kubernetes.Client.Kubeconfig.Load(state.Kubeconfig));
                await LabObjects.CreateSeedServiceAsync(client, peerSpec, ct).ConfigureAwait(false);
                lab = new Phases(home, state, interval, output);
                for (var run = 1; run <= runs; run++)
                {
                    await lab.SettleAsync(LabObjects.SeedV4, 2, ct).ConfigureAwait(false);
                    var (ms, samples, failAt) = await lab.MeasureAsync(LabObjects.SeedV4, $"peer run {run} (no BFD, hold 3 s) freeze k8s1",
                        () => LabLauncher.SendAsync(home, "fail k8s1 freeze", ct), ct).ConfigureAwait(false);
                    phases["peer"].Add(ms);
                    if (run == 1)
                    {
                        timelines.Add(("BGP without BFD (hold 3 s) freeze", samples, failAt));
                    }

                    await LabLauncher.SendAsync(home, "heal k8s1", ct).ConfigureAwait(false);
                }
            }
            else
            {
                await using var vrrp = await Keepalived.StartAsync(state, ct).ConfigureAwait(false);
                for (var run = 1; run <= runs; run++)
                {
                    await lab.SettleAsync(Keepalived.Vip, 1, ct, "k8s1").ConfigureAwait(false);
                    var (ms, samples, failAt) = await lab.MeasureAsync(Keepalived.Vip, $"keepalived run {run} freeze k8s1",
                        () => Task.FromResult(vrrp.Freeze("k8s1")), ct).ConfigureAwait(false);
                    phases["peer"].Add(ms);
                    if (run == 1)
                    {
                        timelines.Add(("keepalived (VRRP, advert_int 1 s) freeze", samples, failAt));
                    }

                    vrrp.Thaw("k8s1");
                }
            }
        }
        finally
        {
            await LabLauncher.DownAsync(home, TextWriter.Null, CancellationToken.None).ConfigureAwait(false);
        }

        if (plot is not null)
        {
            FailoverPlot.Write(plot, timelines);
            await output.WriteLineAsync($"timeline written to {plot}").ConfigureAwait(false);
        }

        BenchResult.Print(output, new Dictionary<string, object>
        {
            ["bench"] = "failover",
            ["mode"] = mode,
            ["runs"] = runs,
            ["probeIntervalMs"] = intervalMs,
            ["nodeDeathGapMs"] = Median(phases["freeze"]),
            ["killGapMs"] = Median(phases["kill"]),
            ["stopGapMs"] = Median(phases["stop"]),
            ["peerNodeDeathGapMs"] = Median(phases["peer"]),
            ["peer"] = bgp ? "BGP without BFD, hold time 3 s" : "keepalived VRRP advert_int 1 s",
            ["nodeDeathGapsMs"] = phases["freeze"],
            ["killGapsMs"] = phases["kill"],
            ["stopGapsMs"] = phases["stop"],
            ["peerNodeDeathGapsMs"] = phases["peer"],
        });
        return 0;
    }

    private static double Median(List<double> values)
    {
        if (values.Count == 0)
        {
            return double.NaN;
        }

        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : Math.Round((sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2, 1);
    }

    /// <summary>One failure measured: the probe runs, the failure happens, and the probe goes on until the client has recovered for good.</summary>
    private sealed class Phases(LabHome home, LabState state, TimeSpan interval, TextWriter output)
    {
        /// <summary>How long requests started after the failure kept failing; with the probe's samples and when the failure was done.</summary>
        public async Task<(double Ms, IReadOnlyList<ProbeSample> Samples, double FailMs)> MeasureAsync(IPAddress address, string what, Func<Task<string>> fail, CancellationToken ct)
        {
            var prober = new Prober(state.Client, address, state.Spec.Port) { Interval = interval, Timeout = TimeSpan.FromSeconds(1) };
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
            var probing = prober.RunAsync(TimeSpan.FromMinutes(2), ct: stop.Token);
            await Task.Delay(500, ct).ConfigureAwait(false);
            var failAt = prober.NowMs;
            await fail().ConfigureAwait(false);

            // Recovered: a long run of answered requests, all started after the failure.
            var needed = (int)Math.Max(100, 300 / interval.TotalMilliseconds);
            var sw = Stopwatch.StartNew();
            while (!Recovered(Settled(prober, failAt), needed) && sw.Elapsed < TimeSpan.FromSeconds(60))
            {
                await Task.Delay(50, ct).ConfigureAwait(false);
            }

            await Task.Delay(300, ct).ConfigureAwait(false);
            await stop.CancelAsync().ConfigureAwait(false);
            var result = await probing.ConfigureAwait(false);
            var after = result.Since(failAt - 100);
            var window = Math.Round(ProbeResult.FailureWindow(after, interval).TotalMilliseconds, 1);
            await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"{what}: {result.Succeeded} ok, {result.Failed} failed; outage {window} ms{(Recovered(after, needed) ? string.Empty : " (not recovered within 60 s)")}")).ConfigureAwait(false);
            return (window, result.Samples, failAt);
        }

        /// <summary>Waits until <paramref name="nodes"/> nodes answer the address (and the named one among them, if any).</summary>
        public async Task SettleAsync(IPAddress address, int nodes, CancellationToken ct, string? including = null)
        {
            var sw = Stopwatch.StartNew();
            while (sw.Elapsed < TimeSpan.FromSeconds(120))
            {
                var answers = new HashSet<string?>();
                for (var i = 0; i < 24; i++)
                {
                    answers.Add(await Responder.AskAsync(state.Client, address, state.Spec.Port, TimeSpan.FromSeconds(1)).ConfigureAwait(false));
                }

                if (!answers.Contains(null) && answers.Count == nodes && (including is null || answers.Contains(including)))
                {
                    return;
                }

                await Task.Delay(100, ct).ConfigureAwait(false);
            }

            throw new LabException($"{address} was not answered by {nodes} node(s) within 120 s; lab log {home.Log}");
        }

        /// <summary>The samples since the failure whose outcome is final (nothing started before them still waits).</summary>
        private static IReadOnlyList<ProbeSample> Settled(Prober prober, double failAt)
        {
            var settled = prober.SettledBeforeMs;
            return [.. prober.Snapshot().Since(failAt).Where(s => s.AtMs < settled)];
        }

        private static bool Recovered(IReadOnlyList<ProbeSample> samples, int needed)
        {
            var run = 0;
            foreach (var s in samples.OrderBy(s => s.AtMs))
            {
                run = s.Ok ? run + 1 : 0;
                if (run >= needed)
                {
                    return true;
                }
            }

            return false;
        }
    }
}
