using System.Diagnostics;
using System.Globalization;
using System.Net;
using Extip.Cli.Lab;
using Extip.Core.Pools;
using Extip.Kubernetes.Client;
using Extip.Kubernetes.Informers;
using Extip.Kubernetes.Models;
using Extip.Lab;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging.Abstractions;

namespace Extip.Cli.Bench;

/// <summary>
/// <c>extip bench moves</c>: moves extip decides itself, under a client that sends a request
/// every few milliseconds to the seed's address. Planned moves: the node holding the address is
/// stopped (SIGTERM: it drains) and started again, or labelled out of external load balancers and
/// back, until the address has changed node N times (rebalancing moves as the nodes come back
/// count too). Then a rolling restart: every agent stopped and started again, one after the
/// other, in Balance and (BGP) in All. Counts failed requests in each.
/// </summary>
internal static class MovesBench
{
    private const string ExcludeLabel = "node.kubernetes.io/exclude-from-external-load-balancers";

    public static async Task<int> RunAsync(string mode, int moves, double intervalMs, bool noHandover, TextWriter output, CancellationToken ct, bool noChain = false)
    {
        if (Environment.UserName != "root")
        {
            await output.WriteLineAsync("bench moves: needs root (network namespaces)").ConfigureAwait(false);
            return 1;
        }

        var bgp = mode == "bgp";
        var interval = TimeSpan.FromMilliseconds(intervalMs);
        var home = new LabHome(Path.Combine(Path.GetTempPath(), $"extip-bench-moves-{Environment.ProcessId}"));
        var result = new Dictionary<string, object?> { ["bench"] = "moves", ["mode"] = mode, ["probeIntervalMs"] = intervalMs, ["handover"] = !noHandover, ["chain"] = !noChain };
        try
        {
            // Damping off: a node that comes back is given its share at once (gradually), so each
            // return is more planned moves to measure.
            var spec = new LabSpec { Nodes = 3, Agents = 3, Mode = bgp ? AnnounceMode.BGP : AnnounceMode.L2, Distribution = Distribution.Balance, HoldDownSeconds = 0, NoHandover = noHandover, NoChain = noChain };
            var state = await LabLauncher.UpAsync(spec, home, TextWriter.Null, ct).ConfigureAwait(false);
            var client = new Extip.Kubernetes.Client.ExtipKubernetes(Extip.Kubernetes.Client.Kubeconfig.Load(state.Kubeconfig));
            await LabObjects.CreateSeedServiceAsync(client, spec, ct).ConfigureAwait(false);
            var claimName = LabObjects.ClaimName(LabObjects.SeedV4);

            // The seed claim's node changes, from a watch.
            var claims = new Informer<IpClaim>(Resources.Custom<IpClaim>(client, IpClaim.Plural), NullLogger.Instance);
            var moved = 0;
            string? last = null;
            claims.Changed += (type, claim, _) =>
            {
                if (type == WatchEventType.Deleted || claim.Metadata.Name != claimName)
                {
                    return;
                }

                var nodes = string.Join(',', claim.Spec.Nodes.Order(StringComparer.Ordinal));
                if (nodes.Length > 0 && last is not null && nodes != last)
                {
                    Interlocked.Increment(ref moved);
                }

                last = nodes.Length > 0 ? nodes : last;
            };
            using var stopClaims = CancellationTokenSource.CreateLinkedTokenSource(ct);
            var informing = claims.RunAsync(stopClaims.Token);
            await claims.ReadyAsync(ct).ConfigureAwait(false);
            await AnsweredByAsync(state, null, ct).ConfigureAwait(false);

            // Planned moves.
            var (planned, plannedFailed, plannedSent) = await ProbedAsync(state, interval, async prober =>
            {
                var round = 0;
                var start = Volatile.Read(ref moved);
                while (Volatile.Read(ref moved) - start < moves)
                {
                    var holder = claims.Get(claimName)?.Spec.Nodes.FirstOrDefault() ?? throw new LabException($"bench moves: no node holds {LabObjects.SeedV4}; lab log {home.Log}");
                    var byLabel = round++ % 2 == 1;
                    var failedBefore = prober.Snapshot().Failed;
                    var t0 = prober.NowMs;
                    var marks = new List<string>();
                    void Mark(string what) => marks.Add(string.Create(CultureInfo.InvariantCulture, $"{what} {prober.NowMs - t0:F0}"));
                    if (byLabel)
                    {
                        await LabelAsync(client, holder, true, ct).ConfigureAwait(false);
                        Mark("labelled");
                        await AnsweredByAsync(state, n => n != holder, ct).ConfigureAwait(false);
                        Mark("moved");
                        await LabelAsync(client, holder, false, ct).ConfigureAwait(false);
                        Mark("unlabelled");
                    }
                    else
                    {
                        await LabLauncher.SendAsync(home, $"fail {holder} stop", ct).ConfigureAwait(false);
                        Mark("stopped");
                        await AnsweredByAsync(state, n => n != holder, ct).ConfigureAwait(false);
                        Mark("moved");
                        await LabLauncher.SendAsync(home, $"heal {holder}", ct).ConfigureAwait(false);
                        Mark("healed");
                    }

                    await output.WriteLineAsync($"moves: round {round} ({(byLabel ? "label out and back" : "stop and start")} {holder}): {Volatile.Read(ref moved) - start} moves so far, {prober.Snapshot().Failed - failedBefore} requests failed in this round (ms from its start: {string.Join(", ", marks)}; failed at {string.Join(", ", prober.Snapshot().Since(t0).Where(x => !x.Ok).Select(x => (x.AtMs - t0).ToString("F0", CultureInfo.InvariantCulture)))})").ConfigureAwait(false);
                }

                // The last return's rebalancing is part of it.
                await Task.Delay(3000, ct).ConfigureAwait(false);
                return Volatile.Read(ref moved) - start;
            }, ct).ConfigureAwait(false);
            result["plannedMoves"] = planned;
            result["plannedMoveFailedRequests"] = plannedFailed;
            result["plannedMoveRequests"] = plannedSent;
            await output.WriteLineAsync($"moves: {planned} planned moves, {plannedFailed} of {plannedSent} requests failed").ConfigureAwait(false);

            var (_, restartFailed, restartSent) = await ProbedAsync(state, interval, _ => RollingRestartAsync(home, spec, ct), ct).ConfigureAwait(false);
            result["rollingRestartFailedRequests"] = restartFailed;
            result["rollingRestartRequests"] = restartSent;
            await output.WriteLineAsync($"moves: rolling restart of {spec.Agents} agents (Balance): {restartFailed} of {restartSent} requests failed").ConfigureAwait(false);
            // A dead link: the holder's cable pulled (its agent runs and renews its Lease); until
            // the router routes the address to another node (BGP), or another node answers (L2).
            var linkDown = new List<double>();
            for (var run = 0; run < 5; run++)
            {
                var holder = claims.Get(claimName)?.Spec.Nodes.FirstOrDefault() ?? throw new LabException($"bench moves: no node holds {LabObjects.SeedV4}; lab log {home.Log}");
                var sw = Stopwatch.StartNew();
                await LabLauncher.SendAsync(home, $"fail {holder} link-down", ct).ConfigureAwait(false);
                while (true)
                {
                    if (sw.Elapsed > TimeSpan.FromSeconds(60))
                    {
                        throw new LabException($"bench moves: {LabObjects.SeedV4} did not leave {holder} within 60 s of its link going down; lab log {home.Log}");
                    }

                    if (bgp)
                    {
                        var hops = Fabric.NextHops(state.Router, LabObjects.SeedV4).Select(h => state.NodeOf(h)).ToList();
                        if (hops.Count > 0 && hops.All(h => h is not null && h != holder))
                        {
                            break;
                        }

                        await Task.Delay(1, ct).ConfigureAwait(false);
                    }
                    else if (await Responder.AskAsync(state.Client, LabObjects.SeedV4, state.Spec.Port, TimeSpan.FromMilliseconds(50)).ConfigureAwait(false) is { } node && node != holder)
                    {
                        break;
                    }
                }

                linkDown.Add(Math.Round(sw.Elapsed.TotalMilliseconds, 1));
                await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"moves: link down on {holder}: {(bgp ? "the router's next hop changed" : "another node answered")} after {linkDown[^1]} ms")).ConfigureAwait(false);
                await LabLauncher.SendAsync(home, $"heal {holder}", ct).ConfigureAwait(false);
                await AnsweredByAsync(state, null, ct).ConfigureAwait(false);
            }

            result["linkDownMoveMs"] = linkDown.Order().ElementAt(linkDown.Count / 2);
            result["linkDownMovesMs"] = linkDown;
            await stopClaims.CancelAsync().ConfigureAwait(false);
            await informing.ConfigureAwait(false);

            if (bgp)
            {
                // All: every node holds the address (ECMP); a restart takes one next hop away and back.
                await LabLauncher.DownAsync(home, TextWriter.Null, ct).ConfigureAwait(false);
                var all = spec with { Distribution = Distribution.All, HoldDownSeconds = null };
                state = await LabLauncher.UpAsync(all, home, TextWriter.Null, ct).ConfigureAwait(false);
                client = new Extip.Kubernetes.Client.ExtipKubernetes(Extip.Kubernetes.Client.Kubeconfig.Load(state.Kubeconfig));
                await LabObjects.CreateSeedServiceAsync(client, all, ct).ConfigureAwait(false);
                await AllAnswerAsync(state, all.Agents, ct).ConfigureAwait(false);
                var (_, allFailed, allSent) = await ProbedAsync(state, interval, _ => RollingRestartAsync(home, all, ct), ct).ConfigureAwait(false);
                result["rollingRestartAllFailedRequests"] = allFailed;
                result["rollingRestartAllRequests"] = allSent;
                await output.WriteLineAsync($"moves: rolling restart of {all.Agents} agents (All): {allFailed} of {allSent} requests failed").ConfigureAwait(false);

                // externalTrafficPolicy Local: the only ready endpoint moves to another node; from
                // the EndpointSlice written to the router's next hop to that node.
                await LabObjects.SetLocalEndpointsAsync(client, state, [all.AgentNodes[0]], ct).ConfigureAwait(false);
                await NextHopsAsync(state, [all.AgentNodes[0]], exact: true, ct).ConfigureAwait(false);
                var follow = new List<double>();
                for (var run = 1; run <= 6; run++)
                {
                    var to = all.AgentNodes[run % all.AgentNodes.Count];
                    var sw = Stopwatch.StartNew();
                    await LabObjects.SetLocalEndpointsAsync(client, state, [to], ct).ConfigureAwait(false);
                    await NextHopsAsync(state, [to], exact: false, ct).ConfigureAwait(false);
                    follow.Add(Math.Round(sw.Elapsed.TotalMilliseconds, 1));
                    await NextHopsAsync(state, [to], exact: true, ct).ConfigureAwait(false);
                    await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"moves: the endpoint moved to {to}: the router's next hop to it after {follow[^1]} ms")).ConfigureAwait(false);
                }

                result["etpLocalFollowMs"] = follow.Order().ElementAt(follow.Count / 2);
                result["etpLocalFollowsMs"] = follow;
            }
            else
            {
                // Measured in BGP mode (the router's next hop), where All spreads the address over the endpoints' nodes.
                result["etpLocalFollowMs"] = null;
            }
        }
        finally
        {
            await LabLauncher.DownAsync(home, TextWriter.Null, CancellationToken.None).ConfigureAwait(false);
        }

        BenchResult.PrintWithNulls(output, result);
        return 0;
    }

    /// <summary>Each agent stopped (SIGTERM) and started again, one after the other, waiting for it to be ready.</summary>
    private static async Task<int> RollingRestartAsync(LabHome home, LabSpec spec, CancellationToken ct)
    {
        foreach (var node in spec.AgentNodes)
        {
            await LabLauncher.SendAsync(home, $"fail {node} stop", ct).ConfigureAwait(false);
            await LabLauncher.SendAsync(home, $"heal {node}", ct).ConfigureAwait(false);
        }

        await Task.Delay(3000, ct).ConfigureAwait(false);
        return 0;
    }

    /// <summary>Runs <paramref name="work"/> while the client probes the seed address; its result, failed and sent requests.</summary>
    private static async Task<(int Result, long Failed, long Sent)> ProbedAsync(LabState state, TimeSpan interval, Func<Prober, Task<int>> work, CancellationToken ct)
    {
        var prober = new Prober(state.Client, LabObjects.SeedV4, state.Spec.Port) { Interval = interval, Timeout = TimeSpan.FromSeconds(1) };
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var probing = prober.RunAsync(TimeSpan.FromHours(1), ct: stop.Token);
        var r = await work(prober).ConfigureAwait(false);
        await stop.CancelAsync().ConfigureAwait(false);
        var p = await probing.ConfigureAwait(false);
        return (r, p.Failed, p.Sent);
    }

    private static Task LabelAsync(IKubernetes client, string node, bool exclude, CancellationToken ct)
    {
        var value = exclude ? "\"true\"" : "null";
        var patch = "{\"metadata\":{\"labels\":{\"" + ExcludeLabel + "\":" + value + "}}}";
        return client.CoreV1.PatchNodeAsync(new V1Patch(patch, V1Patch.PatchType.MergePatch), node, cancellationToken: ct);
    }

    /// <summary>Waits until the seed address is answered, by a node <paramref name="which"/> accepts, several times in a row.</summary>
    private static async Task AnsweredByAsync(LabState state, Func<string, bool>? which, CancellationToken ct)
    {
        var sw = Stopwatch.StartNew();
        var streak = 0;
        while (streak < 10)
        {
            if (sw.Elapsed > TimeSpan.FromSeconds(60))
            {
                throw new LabException(string.Create(CultureInfo.InvariantCulture, $"bench moves: {LabObjects.SeedV4} not answered as expected within 60 s"));
            }

            var node = await Responder.AskAsync(state.Client, LabObjects.SeedV4, state.Spec.Port, TimeSpan.FromSeconds(1)).ConfigureAwait(false);
            streak = node is not null && (which is null || which(node)) ? streak + 1 : 0;
            await Task.Delay(20, ct).ConfigureAwait(false);
        }
    }

    /// <summary>Waits until the router's next hops for the seed address include <paramref name="nodes"/> (or are exactly them).</summary>
    private static async Task NextHopsAsync(LabState state, IReadOnlyList<string> nodes, bool exact, CancellationToken ct)
    {
        var sw = Stopwatch.StartNew();
        while (true)
        {
            var hops = Fabric.NextHops(state.Router, LabObjects.SeedV4).Select(h => state.NodeOf(h) ?? h.ToString()).ToHashSet(StringComparer.Ordinal);
            if (exact ? hops.SetEquals(nodes) : nodes.All(hops.Contains))
            {
                return;
            }

            if (sw.Elapsed > TimeSpan.FromSeconds(60))
            {
                throw new LabException($"bench moves: the router's next hops for {LabObjects.SeedV4} are [{string.Join(",", hops)}], not [{string.Join(",", nodes)}], after 60 s");
            }

            await Task.Delay(1, ct).ConfigureAwait(false);
        }
    }

    /// <summary>Waits until every agent node answers the address (ECMP spreads the client's connections).</summary>
    private static async Task AllAnswerAsync(LabState state, int nodes, CancellationToken ct)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < TimeSpan.FromSeconds(120))
        {
            var answers = new HashSet<string?>();
            for (var i = 0; i < 24; i++)
            {
                answers.Add(await Responder.AskAsync(state.Client, LabObjects.SeedV4, state.Spec.Port, TimeSpan.FromSeconds(1)).ConfigureAwait(false));
            }

            if (!answers.Contains(null) && answers.Count == nodes)
            {
                return;
            }

            await Task.Delay(100, ct).ConfigureAwait(false);
        }

        throw new LabException($"bench moves: {LabObjects.SeedV4} not answered by {nodes} nodes within 120 s");
    }
}
