using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using Extip.Cli.Lab;
using Extip.Core.Pools;
using Extip.Kubernetes.Client;
using Extip.Kubernetes.Informers;
using Extip.Kubernetes.Models;
using Extip.Lab;
using Extip.Netlink;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging.Abstractions;

namespace Extip.Cli.Bench;

/// <summary>
/// <c>extip bench flaps</c>: an operator's bad day. Five nodes on one L2 segment, agents on three;
/// an L2 Balance pool, a <c>lo</c> Balance pool and an All pool; 32 Services. For SECONDS the
/// agents are killed, stopped (SIGTERM) and hung (SIGSTOP, traffic flowing) at random, at most two
/// at once, and now and then a Service is recreated; then everything is healed. Counts the
/// single-owner (Balance) claims' moves, the All claims' node-set changes apart, the times a single-owner L2 address sat on two nodes' kernels at once (sampled every 50 ms; BGP-mode ones apart: they overlap by design while handed over),
/// and after the heal, each Balance pool's spread and whether the kernels match the claims.
/// </summary>
internal static class FlapsBench
{
    private const string BalancePool = "flap-lo";
    private const string AllPool = "flap-all";
    private static readonly string[] Hows = ["kill", "stop", "hang"];

    public static async Task<int> RunAsync(double seconds, int seed, double? holdDown, TextWriter output, CancellationToken ct)
    {
        if (Environment.UserName != "root")
        {
            await output.WriteLineAsync("bench flaps: needs root (network namespaces)").ConfigureAwait(false);
            return 1;
        }

        var home = new LabHome(Path.Combine(Path.GetTempPath(), $"extip-bench-flaps-{Environment.ProcessId}"));
        try
        {
            var spec = new LabSpec { Nodes = 5, Agents = 3, Mode = AnnounceMode.L2, Distribution = Distribution.Balance, HoldDownSeconds = holdDown };
            var state = await LabLauncher.UpAsync(spec, home, TextWriter.Null, ct).ConfigureAwait(false);
            var client = new Extip.Kubernetes.Client.ExtipKubernetes(Extip.Kubernetes.Client.Kubeconfig.Load(state.Kubeconfig));
            await PoolAsync(client, BalancePool, "192.0.2.0/26", Distribution.Balance, ct).ConfigureAwait(false);
            await PoolAsync(client, AllPool, "192.0.2.64/26", Distribution.All, ct).ConfigureAwait(false);
            var pools = new[] { LabObjects.PoolName, BalancePool, AllPool };
            var services = Enumerable.Range(0, 32).Select(i => (Name: $"flap-{i:D2}", Pool: pools[i % 3])).ToList();
            foreach (var (name, pool) in services)
            {
                await ServiceAsync(client, name, pool, ct).ConfigureAwait(false);
            }

            // Every claim's node changes, from a watch (a poll could miss a quick back and forth).
            var claims = new Informer<IpClaim>(Resources.Custom<IpClaim>(client, IpClaim.Plural), NullLogger.Instance);
            var lastNodes = new ConcurrentDictionary<string, string>(StringComparer.Ordinal);
            var moves = 0;
            var allChanges = 0;
            var offLive = 0;
            var counting = false;
            var down = new ConcurrentDictionary<string, string>(StringComparer.Ordinal);
            claims.Changed += (type, claim, previous) =>
            {
                if (type == WatchEventType.Deleted)
                {
                    lastNodes.TryRemove(claim.Metadata.Name, out _);
                    return;
                }

                var nodes = string.Join(',', claim.Spec.Nodes.Order(StringComparer.Ordinal));
                if (nodes.Length == 0)
                {
                    return;
                }

                if (lastNodes.TryGetValue(claim.Metadata.Name, out var before) && before != nodes && Volatile.Read(ref counting))
                {
                    // A single-owner address moving is a disruption; an All address's node set
                    // follows the live nodes by design (counted apart).
                    Interlocked.Increment(ref claim.Spec.DistributionKind == Distribution.All ? ref allChanges : ref moves);
                    if (claim.Spec.DistributionKind != Distribution.All && before.Split(',').All(n => !down.ContainsKey(n)))
                    {
                        // Off a node whose agent runs: a rebalance (or a late failover), not a forced move.
                        Interlocked.Increment(ref offLive);
                    }
                }

                lastNodes[claim.Metadata.Name] = nodes;
            };
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
            var informing = claims.RunAsync(stop.Token);
            await claims.ReadyAsync(ct).ConfigureAwait(false);

            var settle = Stopwatch.StartNew();
            var (mismatches, _) = await SettleAsync(state, claims, spec, TimeSpan.FromMinutes(2), ct).ConfigureAwait(false);
            if (mismatches.Count > 0)
            {
                throw new LabException($"bench flaps: before the chaos, the kernels do not match the claims: {string.Join("; ", mismatches.Take(10))}; lab log {home.Log}");
            }

            await output.WriteLineAsync($"flaps: {claims.Count} claims in place after {settle.Elapsed.TotalSeconds:F1} s; {seconds} s of chaos, seed {seed}").ConfigureAwait(false);

            // Two holders of a single-owner address, sampled every 50 ms: in L2 both answer ARP (a
            // split brain); a BGP-mode one is only routed where it is announced, and two kernels
            // hold it by design while it is handed over (make-before-break): counted apart.
            var episodes = new List<TimeSpan>();
            var overlaps = new List<TimeSpan>();
            var open = new Dictionary<IPAddress, (Stopwatch Since, bool L2)>();
            var sampling = Task.Run(async () =>
            {
                while (!stop.IsCancellationRequested)
                {
                    var held = Kernels(state);
                    foreach (var c in claims.Items.Where(c => c.Spec.DistributionKind == Distribution.Balance))
                    {
                        var ip = IPAddress.Parse(c.Spec.Address);
                        var two = held.TryGetValue(ip, out var on) && on.Count >= 2;
                        lock (episodes)
                        {
                            if (two && !open.ContainsKey(ip))
                            {
                                open[ip] = (Stopwatch.StartNew(), c.Spec.Mode == "L2");
                            }
                            else if (!two && open.Remove(ip, out var o))
                            {
                                (o.L2 ? episodes : overlaps).Add(o.Since.Elapsed);
                            }
                        }
                    }

                    await Task.Delay(50, CancellationToken.None).ConfigureAwait(false);
                }
            }, CancellationToken.None);

            Volatile.Write(ref counting, true);
            var rng = new Random(seed);
            var actions = new List<string>();
            var chaos = Stopwatch.StartNew();
            while (chaos.Elapsed < TimeSpan.FromSeconds(seconds))
            {
                await Task.Delay(1000 + rng.Next(2000), ct).ConfigureAwait(false);
                var r = rng.NextDouble();
                if (r < 0.15)
                {
                    var (name, pool) = services[rng.Next(services.Count)];
                    await client.CoreV1.DeleteNamespacedServiceAsync(name, LabObjects.ServiceNamespace, cancellationToken: ct).ConfigureAwait(false);
                    await ServiceAsync(client, name, pool, ct).ConfigureAwait(false);
                    actions.Add($"recreate {name}");
                    continue;
                }

                var up = spec.AgentNodes.Where(n => !down.ContainsKey(n)).ToList();
                if (down.Count < 2 && (down.Count == 0 || rng.NextDouble() < 0.5))
                {
                    var node = up[rng.Next(up.Count)];
                    var how = Hows[rng.Next(Hows.Length)];
                    await LabLauncher.SendAsync(home, $"fail {node} {how}", ct).ConfigureAwait(false);
                    down[node] = how;
                    actions.Add($"{how} {node}");
                }
                else
                {
                    var node = down.Keys.Order(StringComparer.Ordinal).ElementAt(rng.Next(down.Count));
                    await LabLauncher.SendAsync(home, $"heal {node}", ct).ConfigureAwait(false);
                    down.TryRemove(node, out _);
                    actions.Add($"heal {node}");
                }
            }

            foreach (var node in down.Keys.Order(StringComparer.Ordinal).ToList())
            {
                await LabLauncher.SendAsync(home, $"heal {node}", ct).ConfigureAwait(false);
            }

            var chaosSeconds = chaos.Elapsed.TotalSeconds;
            await output.WriteLineAsync($"flaps: {actions.Count} actions: {string.Join(", ", actions)}").ConfigureAwait(false);

            // Healed: the kernels must match the claims, and each Balance pool be even within one.
            settle.Restart();
            var (left, imbalance) = await SettleAsync(state, claims, spec, TimeSpan.FromMinutes(2), ct).ConfigureAwait(false);
            var settleMs = settle.Elapsed.TotalMilliseconds;
            Volatile.Write(ref counting, false);
            await stop.CancelAsync().ConfigureAwait(false);
            await sampling.ConfigureAwait(false);
            await informing.ConfigureAwait(false);
            lock (episodes)
            {
                episodes.AddRange(open.Values.Where(o => o.L2).Select(o => o.Since.Elapsed));
                overlaps.AddRange(open.Values.Where(o => !o.L2).Select(o => o.Since.Elapsed));
            }

            foreach (var m in left.Take(20))
            {
                await output.WriteLineAsync($"flaps: at the end: {m}").ConfigureAwait(false);
            }

            var claimCount = claims.Items.Count(c => c.Spec.DistributionKind == Distribution.Balance);
            var result = new Dictionary<string, object>
            {
                ["bench"] = "flaps",
                ["seed"] = seed,
                ["seconds"] = Math.Round(chaosSeconds, 1),
                ["holdDownSeconds"] = holdDown is { } h ? h : "default",
                ["balanceClaims"] = claimCount,
                ["allNodeSetChanges"] = allChanges,
                ["actions"] = actions.Count,
                ["claimMoves"] = moves,
                ["movesOffRunningAgents"] = offLive,
                ["movesPerClaimPerMinute"] = Math.Round(moves / (double)Math.Max(1, claimCount) / (chaosSeconds / 60), 2),
                ["splitBrainEpisodes"] = episodes.Count,
                ["splitBrainMaxMs"] = episodes.Count == 0 ? 0 : Math.Round(episodes.Max().TotalMilliseconds),
                ["bgpOverlapEpisodes"] = overlaps.Count,
                ["bgpOverlapMaxMs"] = overlaps.Count == 0 ? 0 : Math.Round(overlaps.Max().TotalMilliseconds),
                ["maxPoolImbalance"] = imbalance,
                ["finalMismatches"] = left.Count,
                ["settleMs"] = Math.Round(settleMs),
            };
            BenchResult.Print(output, result);
            return 0;
        }
        finally
        {
            await LabLauncher.DownAsync(home, TextWriter.Null, CancellationToken.None).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Waits (up to <paramref name="limit"/>) until every node's kernel holds exactly the addresses
    /// its claims give it and each Balance pool is even within one over the agents' nodes, for two
    /// seconds in a row; returns what still differs and the largest pool imbalance seen last.
    /// </summary>
    private static async Task<(List<string> Mismatches, int Imbalance)> SettleAsync(LabState state, Informer<IpClaim> claims, LabSpec spec, TimeSpan limit, CancellationToken ct)
    {
        var sw = Stopwatch.StartNew();
        Stopwatch? good = null;
        while (true)
        {
            var mismatches = Mismatches(state, claims, spec);
            var imbalance = Imbalance(claims, spec);
            if (mismatches.Count == 0 && imbalance <= 1 && claims.Count == 32)
            {
                good ??= Stopwatch.StartNew();
                if (good.Elapsed >= TimeSpan.FromSeconds(2))
                {
                    return (mismatches, imbalance);
                }
            }
            else
            {
                good = null;
            }

            if (sw.Elapsed > limit)
            {
                return (mismatches, imbalance);
            }

            await Task.Delay(100, ct).ConfigureAwait(false);
        }
    }

    private static List<string> Mismatches(LabState state, Informer<IpClaim> claims, LabSpec spec)
    {
        var held = Kernels(state);
        var wanted = new Dictionary<IPAddress, HashSet<string>>();
        var problems = new List<string>();
        foreach (var c in claims.Items)
        {
            var ip = IPAddress.Parse(c.Spec.Address);
            var nodes = c.Spec.Nodes.ToHashSet(StringComparer.Ordinal);
            wanted[ip] = nodes;
            var want = c.Spec.DistributionKind == Distribution.All ? spec.Agents : 1;
            if (nodes.Count != want)
            {
                problems.Add($"{c.Metadata.Name}: on {nodes.Count} node(s), not {want}");
            }

            var on = held.GetValueOrDefault(ip) ?? [];
            if (!on.SetEquals(nodes))
            {
                problems.Add($"{ip}: claimed on [{string.Join(",", nodes.Order(StringComparer.Ordinal))}], in the kernels of [{string.Join(",", on.Order(StringComparer.Ordinal))}]");
            }
        }

        foreach (var (ip, on) in held.Where(kv => !wanted.ContainsKey(kv.Key)))
        {
            problems.Add($"{ip}: on [{string.Join(",", on.Order(StringComparer.Ordinal))}] without a claim");
        }

        return problems;
    }

    /// <summary>The largest (most − fewest) addresses per agent node over the Balance pools.</summary>
    private static int Imbalance(Informer<IpClaim> claims, LabSpec spec)
    {
        var worst = 0;
        foreach (var pool in claims.Items.Where(c => c.Spec.DistributionKind == Distribution.Balance).GroupBy(c => c.Spec.Pool ?? string.Empty, StringComparer.Ordinal))
        {
            var loads = spec.AgentNodes.Select(n => pool.Count(c => c.Spec.Nodes.Contains(n))).ToList();
            worst = Math.Max(worst, loads.Max() - loads.Min());
        }

        return worst;
    }

    /// <summary>The bench's addresses (the three pools) in each node's kernel, on any interface.</summary>
    private static Dictionary<IPAddress, HashSet<string>> Kernels(LabState state)
    {
        var held = new Dictionary<IPAddress, HashSet<string>>();
        foreach (var node in state.Nodes)
        {
            using var nl = RtNetlink.Open(node.Netns);
            foreach (var a in nl.Addresses(System.Net.Sockets.AddressFamily.InterNetwork))
            {
                var b = a.Address.GetAddressBytes();
                if ((b[0] == 203 && b[1] == 0 && b[2] == 113) || (b[0] == 192 && b[1] == 0 && b[2] == 2 && b[3] < 128))
                {
                    if (!held.TryGetValue(a.Address, out var on))
                    {
                        held[a.Address] = on = new HashSet<string>(StringComparer.Ordinal);
                    }

                    on.Add(node.Name);
                }
            }
        }

        return held;
    }

    private static Task PoolAsync(IKubernetes client, string name, string cidr, Distribution distribution, CancellationToken ct) =>
        client.CustomObjects.CreateClusterCustomObjectAsync(new IpPool
        {
            Metadata = new V1ObjectMeta { Name = name },
            ApiVersion = ExtipApi.ApiVersion,
            Spec = new IpPoolSpecModel
            {
                Addresses = [cidr],
                PrefixLength = 32,
                AvoidBuggyIPs = true,
                Announce = new AnnounceModel { Mode = nameof(AnnounceMode.BGP), Interface = "lo", Distribution = distribution.ToString() },
            },
        }, ExtipApi.Group, ExtipApi.Version, IpPool.Plural, cancellationToken: ct);

    private static Task ServiceAsync(IKubernetes client, string name, string pool, CancellationToken ct) =>
        client.CoreV1.CreateNamespacedServiceAsync(new V1Service
        {
            Metadata = new V1ObjectMeta
            {
                Name = name,
                Annotations = new Dictionary<string, string> { [ExtipApi.PoolAnnotation] = pool },
            },
            Spec = new V1ServiceSpec
            {
                Type = "LoadBalancer",
                Selector = new Dictionary<string, string> { ["app"] = name },
                Ports = [new V1ServicePort { Protocol = "TCP", Port = 80, TargetPort = 80 }],
            },
        }, LabObjects.ServiceNamespace, cancellationToken: ct);
}
