using System.Diagnostics;
using Extip.Cli.Lab;
using Extip.Core.Pools;
using Extip.Lab;
using Extip.Netlink;

namespace Extip.Cli.Bench;

/// <summary>
/// <c>extip bench failover --api-outage SECONDS</c>: in a lab of its own, the API server is
/// frozen for SECONDS while a client probes the seed's address every 10 ms; counts the failed
/// requests, the addresses taken off nodes, and the claim's moves after the API server is back.
/// One JSON line per distribution (BGP: All and Balance; L2: Balance), and in L2 one for a node
/// cut off from the API server alone (<c>apiCut</c>).
/// </summary>
internal static class ApiOutageBench
{
    public static async Task<int> RunAsync(string mode, double seconds, TextWriter output, CancellationToken ct)
    {
        if (Environment.UserName != "root")
        {
            await output.WriteLineAsync("bench failover --api-outage: needs root (network namespaces)").ConfigureAwait(false);
            return 1;
        }

        var bgp = mode == "bgp";
        var results = new List<Dictionary<string, object>>();
        foreach (var distribution in bgp ? new[] { Distribution.All, Distribution.Balance } : [Distribution.Balance])
        {
            var home = new LabHome(Path.Combine(Path.GetTempPath(), $"extip-bench-api-outage-{Environment.ProcessId}"));
            try
            {
                var spec = new LabSpec { Nodes = 3, Agents = 2, Mode = bgp ? AnnounceMode.BGP : AnnounceMode.L2, Distribution = distribution };
                var state = await LabLauncher.UpAsync(spec, home, TextWriter.Null, ct).ConfigureAwait(false);
                var client = new Extip.Kubernetes.Client.ExtipKubernetes(Extip.Kubernetes.Client.Kubeconfig.Load(state.Kubeconfig));
                await LabObjects.CreateSeedServiceAsync(client, spec, ct).ConfigureAwait(false);
                var holders = distribution == Distribution.All ? 2 : 1;
                var iface = bgp ? "lo" : "eth0";
                var sw = Stopwatch.StartNew();
                while (Held(state, iface).Count != holders || (await LabObjects.ClaimAsync(client, LabObjects.SeedV4, ct).ConfigureAwait(false))?.Spec.Nodes.Count != holders
                    || (bgp && Fabric.NextHops(state.Router, LabObjects.SeedV4).Count != holders))
                {
                    if (sw.Elapsed > TimeSpan.FromMinutes(2))
                    {
                        throw new LabException($"the seed's address was not on {holders} node(s) within 2 minutes; lab log {home.Log}");
                    }

                    await Task.Delay(50, ct).ConfigureAwait(false);
                }

                var before = (await LabObjects.ClaimAsync(client, LabObjects.SeedV4, ct).ConfigureAwait(false))!.Spec.Nodes;
                var prober = new Prober(state.Client, LabObjects.SeedV4, spec.Port) { Interval = TimeSpan.FromMilliseconds(10), Timeout = TimeSpan.FromSeconds(1) };
                using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
                var probing = prober.RunAsync(TimeSpan.FromHours(1), ct: stop.Token);
                var removed = 0;
                var watching = Task.Run(async () =>
                {
                    var last = Held(state, iface);
                    while (!stop.IsCancellationRequested)
                    {
                        var now = Held(state, iface);
                        removed += last.Count(n => !now.Contains(n));
                        last = now;
                        await Task.Delay(20, CancellationToken.None).ConfigureAwait(false);
                    }
                }, CancellationToken.None);

                await Task.Delay(1000, ct).ConfigureAwait(false);
                var frozeAt = prober.Snapshot().Samples.LastOrDefault().AtMs;
                await LabLauncher.SendAsync(home, "fail apiserver freeze", ct).ConfigureAwait(false);
                await Task.Delay(TimeSpan.FromSeconds(seconds), ct).ConfigureAwait(false);
                await LabLauncher.SendAsync(home, "heal apiserver", ct).ConfigureAwait(false);

                // After the API server is back: the agents renew, and for four Lease durations the claim is watched.
                var moves = 0;
                var current = before;
                var watchUntil = Stopwatch.StartNew();
                while (watchUntil.Elapsed < TimeSpan.FromSeconds(spec.LeaseSeconds * 4))
                {
                    var nodes = (await LabObjects.ClaimAsync(client, LabObjects.SeedV4, ct).ConfigureAwait(false))?.Spec.Nodes ?? [];
                    if (!nodes.SequenceEqual(current))
                    {
                        moves++;
                        current = nodes;
                    }

                    await Task.Delay(100, ct).ConfigureAwait(false);
                }

                await stop.CancelAsync().ConfigureAwait(false);
                var seen = await probing.ConfigureAwait(false);
                await watching.ConfigureAwait(false);
                var failedAt = seen.Samples.Where(x => !x.Ok).Select(x => (x.AtMs - frozeAt).ToString("F0", System.Globalization.CultureInfo.InvariantCulture)).ToList();
                await output.WriteLineAsync($"{mode} {distribution}: API server frozen {seconds} s: {seen.Succeeded} answered, {seen.Failed} failed{(failedAt.Count > 0 ? $" (at {string.Join(", ", failedAt.Take(20))} ms from the freeze)" : "")}, {removed} address removals, {moves} claim moves after").ConfigureAwait(false);
                results.Add(new Dictionary<string, object>
                {
                    ["bench"] = "apiOutage",
                    ["mode"] = mode,
                    ["distribution"] = distribution.ToString(),
                    ["seconds"] = seconds,
                    ["failedRequests"] = seen.Failed,
                    ["answeredRequests"] = seen.Succeeded,
                    ["addressesRemoved"] = removed,
                    ["claimMovesAfter"] = moves,
                });
            }
            finally
            {
                await LabLauncher.DownAsync(home, TextWriter.Null, CancellationToken.None).ConfigureAwait(false);
            }
        }

        if (!bgp)
        {
            results.Add(await CutApiAsync(output, ct).ConfigureAwait(false));
        }

        foreach (var r in results)
        {
            BenchResult.Print(output, r);
        }

        return 0;
    }

    /// <summary>
    /// L2, Balance: the seed's holder alone is cut off from the API server (<c>fail NODE --how
    /// cut-api</c>); when it fenced, when the other node took over, how long both held the address.
    /// </summary>
    private static async Task<Dictionary<string, object>> CutApiAsync(TextWriter output, CancellationToken ct)
    {
        var home = new LabHome(Path.Combine(Path.GetTempPath(), $"extip-bench-api-cut-{Environment.ProcessId}"));
        try
        {
            var spec = new LabSpec { Nodes = 3, Agents = 2, Mode = AnnounceMode.L2, Distribution = Distribution.Balance };
            var state = await LabLauncher.UpAsync(spec, home, TextWriter.Null, ct).ConfigureAwait(false);
            var client = new Extip.Kubernetes.Client.ExtipKubernetes(Extip.Kubernetes.Client.Kubeconfig.Load(state.Kubeconfig));
            await LabObjects.CreateSeedServiceAsync(client, spec, ct).ConfigureAwait(false);
            var sw = Stopwatch.StartNew();
            string? first = null;
            while (first is null)
            {
                var nodes = (await LabObjects.ClaimAsync(client, LabObjects.SeedV4, ct).ConfigureAwait(false))?.Spec.Nodes;
                if (nodes is [var n] && Held(state, "eth0").SetEquals([n]))
                {
                    first = n;
                }
                else if (sw.Elapsed > TimeSpan.FromMinutes(2))
                {
                    throw new LabException($"the seed's address was not on one node within 2 minutes; lab log {home.Log}");
                }
                else
                {
                    await Task.Delay(50, ct).ConfigureAwait(false);
                }
            }

            var second = spec.AgentNodes.Single(n => n != first);
            var prober = new Prober(state.Client, LabObjects.SeedV4, spec.Port) { Interval = TimeSpan.FromMilliseconds(10), Timeout = TimeSpan.FromSeconds(1) };
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
            var probing = prober.RunAsync(TimeSpan.FromHours(1), ct: stop.Token);
            await LabLauncher.SendAsync(home, $"fail {first} cut-api", ct).ConfigureAwait(false);
            sw.Restart();
            TimeSpan? fenced = null, taken = null;
            var both = TimeSpan.Zero;
            var last = sw.Elapsed;
            while ((fenced is null || taken is null) && sw.Elapsed < TimeSpan.FromMinutes(1))
            {
                var held = Held(state, "eth0");
                var now = sw.Elapsed;
                if (held.Count == 2)
                {
                    both += now - last;
                }

                last = now;
                fenced ??= held.Contains(first) ? null : now;
                taken ??= held.Contains(second) ? now : null;
                await Task.Delay(2, ct).ConfigureAwait(false);
            }

            await Task.Delay(2000, ct).ConfigureAwait(false);
            await stop.CancelAsync().ConfigureAwait(false);
            var seen = await probing.ConfigureAwait(false);
            await output.WriteLineAsync($"l2 Balance: {first} cut off from the API server: fenced after {fenced?.TotalMilliseconds:F0} ms, {second} took over after {taken?.TotalMilliseconds:F0} ms, both held it {both.TotalMilliseconds:F0} ms; {seen.Failed} of {seen.Sent} requests failed").ConfigureAwait(false);
            return new Dictionary<string, object>
            {
                ["bench"] = "apiCut",
                ["mode"] = "l2",
                ["distribution"] = "Balance",
                ["leaseSeconds"] = spec.LeaseSeconds,
                ["fencedMs"] = Math.Round(fenced?.TotalMilliseconds ?? -1),
                ["takenOverMs"] = Math.Round(taken?.TotalMilliseconds ?? -1),
                ["bothHeldMs"] = Math.Round(both.TotalMilliseconds),
                ["failedRequests"] = seen.Failed,
                ["answeredRequests"] = seen.Succeeded,
            };
        }
        finally
        {
            await LabLauncher.DownAsync(home, TextWriter.Null, CancellationToken.None).ConfigureAwait(false);
        }
    }

    /// <summary>The agents' nodes whose kernel holds the seed's address on the interface.</summary>
    private static HashSet<string> Held(LabState state, string iface)
    {
        var held = new HashSet<string>(StringComparer.Ordinal);
        foreach (var node in state.Nodes.Where(n => state.Spec.AgentNodes.Contains(n.Name)))
        {
            using var nl = RtNetlink.Open(node.Netns);
            var index = nl.Link(iface)?.Index;
            if (nl.Addresses().Any(a => a.InterfaceIndex == index && a.Address.Equals(LabObjects.SeedV4)))
            {
                held.Add(node.Name);
            }
        }

        return held;
    }
}
