using Extip.Kubernetes.Client;
using System.Diagnostics;
using System.Net;
using Extip.Controller.Mapping;
using Extip.Core.Addresses;
using Extip.Core.Allocation;
using Extip.Core.Pools;
using Extip.Core.Scheduling;
using Extip.Kubernetes.Models;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Extip.Kubernetes.Events;
using Extip.Controller.Metrics;
using Microsoft.Extensions.Logging;

namespace Extip.Controller.Reconcilers;

/// <summary>
/// Keeps one IPClaim per held address equal to what the scheduler computes from live agents,
/// node labels, pool node selectors, the exclusion label and ready endpoints (for
/// externalTrafficPolicy Local), and deletes claims no Service wants. Returns when it next
/// needs to run (the next agent Lease expiry).
/// </summary>
internal sealed partial class ClaimReconciler(IKubernetes client, ClusterView view, ControllerOptions options, ControllerMetrics metrics, IEventSink events, ILogger logger,
    AllocationState allocation, LivenessTracker liveness, AgentLabelReconciler agentLabels, Passes passes)
{

    /// <summary>Per claim: the generation and spec of this controller's last write, to tell another writer's edit from an informer that is behind.</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, (long Generation, IpClaimSpecModel Spec)> _written = new(StringComparer.Ordinal);

    /// <summary>A gradual rebalancing has steps to go: the next wake-up needs a pass even if liveness did not change.</summary>
    public bool RebalancePending { get; private set; }

    private HashSet<ServiceKey> _lastNoEndpoints = [];

    /// <summary>A Warning Event on each Local Service that newly has no ready endpoint on any node (its address withdrawn).</summary>
    private void ReportNoEndpoints(Dictionary<ServiceKey, string> services)
    {
        foreach (var (key, address) in services.Where(kv => !_lastNoEndpoints.Contains(kv.Key)))
        {
            events.Warning(new V1ObjectReference { Kind = "Service", ApiVersion = "v1", Name = key.Name, NamespaceProperty = key.Namespace }, "NoReadyEndpoints",
                $"externalTrafficPolicy: Local and no node has a ready endpoint of the Service: {address} is withdrawn from every node until one has");
        }

        _lastNoEndpoints = [.. services.Keys];
    }

    private Dictionary<string, string> _lastDead = new(StringComparer.Ordinal);

    /// <summary>A Warning Event on each Node newly found with a dead link, saying which; a log line when it is back.</summary>
    private void ReportDeadLinks(Dictionary<string, string> dead)
    {
        foreach (var (node, why) in dead.Where(kv => _lastDead.GetValueOrDefault(kv.Key) != kv.Value))
        {
            LogLinkDown(logger, node, why);
            events.Warning(new V1ObjectReference { Kind = "Node", ApiVersion = "v1", Name = node }, "LinkDown", $"Node {node} holds no address that needs the link: {why}");
        }

        foreach (var node in _lastDead.Keys.Where(n => !dead.ContainsKey(n)))
        {
            LogLinkBack(logger, node);
        }

        _lastDead = dead;
    }

    [LoggerMessage(EventId = 334, Level = LogLevel.Warning, Message = "node {Node} holds no address that needs the link: {Why}")]
    private static partial void LogLinkDown(ILogger logger, string node, string why);

    [LoggerMessage(EventId = 335, Level = LogLevel.Information, Message = "node {Node}: its links are up again")]
    private static partial void LogLinkBack(ILogger logger, string node);

    [LoggerMessage(EventId = 331, Level = LogLevel.Warning, Message = "IPClaim {Name}: put back {Undone} (changed outside the controller)")]
    private static partial void LogUndone(ILogger logger, string name, string undone);

    /// <summary>One pass over every held address; returns when the next must run (the next Lease expiry, node settling, or rebalancing step).</summary>
    public async Task<DateTimeOffset?> SyncAsync(CancellationToken ct)
    {
        var sw = Stopwatch.StartNew();
        var now = options.Time.GetUtcNow();
        var judged = liveness.Judge();
        var nextExpiry = judged.NextCheck;
        liveness.Accept(judged);

        // The IPNode labels say what this pass schedules on, even if its claim writes fail.
        agentLabels.Observe(judged.Live);

        // A node Kubernetes says is out (taint, or not Ready past the grace) holds nothing, live agent or not.
        var (settling, quiet) = (judged.Settling, judged.Quiet);
        var nodes = judged.Serving.Select(n => new NodeInfo(n, view.Nodes.Get(n)?.Metadata.Labels is { } l ? new Dictionary<string, string>(l) : new Dictionary<string, string>(), true)).ToList();
        var endpoints = ReadyEndpointNodes();
        var (held, pools) = allocation.Snapshot();
        var demands = new List<ClaimDemand>(held.Count);
        var specs = new Dictionary<string, IpClaimSpecModel>(held.Count, StringComparer.Ordinal);

        // Most addresses share their pool's announcement and eligible nodes: work those out once
        // per pool, and hand the scheduler one shared set instead of one per address.
        var perPool = new Dictionary<string, (Announcement Announce, IReadOnlySet<string> Eligible)>(StringComparer.Ordinal);

        // Local Services none of whose endpoints is ready on any node: their addresses are withdrawn, and they say why.
        var noEndpoints = new Dictionary<ServiceKey, string>();

        // A node whose link the address needs is down holds none of those addresses (per interface and mode).
        var deadLinks = new Dictionary<(string, Core.Pools.AnnounceMode), Dictionary<string, string>>();
        var liveNodes = nodes.Select(n => n.Name).ToHashSet(StringComparer.Ordinal);
        Dictionary<string, string> Dead(Announcement a)
        {
            if (!deadLinks.TryGetValue((a.Interface, a.Mode), out var dead))
            {
                deadLinks[(a.Interface, a.Mode)] = dead = DeadLinks.Judge(view.IpNodes.Items, liveNodes, a.Interface, a.Mode);
            }

            return dead;
        }

        foreach (var h in held)
        {
            var pool = h.Pool is null ? null : pools.ByName.GetValueOrDefault(h.Pool);
            var local = h.Owners.Any(o => o.Policy == TrafficPolicy.Local) && !view.EndpointSlices.NotServed;
            Announcement a;
            IReadOnlySet<string> eligible;
            if (!local && perPool.TryGetValue(h.Pool ?? string.Empty, out var cached))
            {
                (a, eligible) = cached;
            }
            else
            {
                a = Announcement.Of(pool, options);
                IReadOnlySet<string>? withEndpoints = local
                    ? h.Owners.Where(o => o.Policy == TrafficPolicy.Local).SelectMany(o => endpoints.GetValueOrDefault(o.Key) ?? []).ToHashSet(StringComparer.Ordinal)
                    : null;
                var dead = Dead(a);
                if (withEndpoints is { Count: 0 })
                {
                    foreach (var o in h.Owners.Where(o => o.Policy == TrafficPolicy.Local))
                    {
                        noEndpoints[o.Key] = h.Address.ToString();
                    }
                }

                eligible = Eligibility.EligibleNodes(dead.Count == 0 ? nodes : nodes.Where(n => !dead.ContainsKey(n.Name)), a.NodeSelector, withEndpoints).ToHashSet(StringComparer.Ordinal);
                if (!local)
                {
                    perPool[h.Pool ?? string.Empty] = (a, eligible);
                }
            }

            var name = h.Address.ToName();
            var current = view.Claims.Get(name)?.Spec.Nodes ?? [];
            demands.Add(new ClaimDemand(name, a.Distribution, a.NodesPerAddress, eligible, current) { Group = $"{h.Pool}/{h.Address.Family}" });
            specs[name] = new IpClaimSpecModel
            {
                Address = h.Address.ToString(),
                PrefixLength = h.PrefixLength,
                Interface = a.Interface,
                Mode = a.Mode.ToString(),
                Distribution = a.Distribution.ToString(),
                Pool = h.Pool,
                Owners = h.Owners.Select(o => o.Key.ToString()).Order(StringComparer.Ordinal).ToList(),
                Communities = a.Communities.Count > 0 ? [.. a.Communities] : null,
                LocalPreference = a.LocalPreference,
            };
        }

        ReportNoEndpoints(noEndpoints);
        ReportDeadLinks(deadLinks.Values.SelectMany(d => d).GroupBy(kv => kv.Key, StringComparer.Ordinal).ToDictionary(g => g.Key, g => string.Join("; ", g.Select(kv => kv.Value).Distinct()), StringComparer.Ordinal));
        var placed = ClaimScheduler.Schedule(demands, new SchedulerOptions
        {
            RebalanceOnArrival = options.RebalanceOnArrival,
            RebalanceShare = options.RebalanceShare,
            Settling = settling,
            Quiet = quiet,
        }, out var unbalanced);
        if (unbalanced)
        {
            // The next rebalancing step: a pass soon, even if nothing else changes.
            var step = now + options.RebalanceStep;
            nextExpiry = nextExpiry is { } n && n < step ? n : step;
            RebalancePending = true;
        }
        else
        {
            RebalancePending = false;
        }
        var writes = new List<Func<Task>>();
        foreach (var (name, spec) in specs)
        {
            spec.Nodes = [.. placed[name]];
            var existing = view.Claims.Get(name);
            if (existing is null)
            {
                writes.Add(() => CreateAsync(name, spec, ct));
            }
            else if (!Same(existing.Spec, spec))
            {
                ReportUndone(existing);
                writes.Add(() => ReplaceAsync(existing, spec, ct));
            }
        }

        foreach (var stale in view.Claims.Items.Where(c => !specs.ContainsKey(c.Metadata.Name)).ToList())
        {
            writes.Add(() => DeleteAsync(stale.Metadata.Name, ct));
        }

        await RunBoundedAsync(writes, options.Workers, ct);
        metrics.Claims.Set(specs.Count);
        metrics.ReconcileSeconds.WithLabels("claims").Observe(sw.Elapsed.TotalSeconds);
        return nextExpiry;
    }

    private Dictionary<ServiceKey, HashSet<string>> ReadyEndpointNodes()
    {
        var byService = new Dictionary<ServiceKey, HashSet<string>>();
        foreach (var slice in view.EndpointSlices.Items)
        {
            if (slice.Metadata.Labels.Value("kubernetes.io/service-name") is not { } svc)
            {
                continue;
            }

            var key = new ServiceKey(slice.Metadata.NamespaceProperty, svc);
            foreach (var ep in slice.Endpoints ?? [])
            {
                if (ep.NodeName is { } node && ep.Conditions?.Ready != false)
                {
                    if (!byService.TryGetValue(key, out var set))
                    {
                        byService[key] = set = new HashSet<string>(StringComparer.Ordinal);
                    }

                    set.Add(node);
                }
            }
        }

        return byService;
    }

    private static bool Same(IpClaimSpecModel a, IpClaimSpecModel b) =>
        a.Address == b.Address && a.PrefixLength == b.PrefixLength && a.Interface == b.Interface && a.Mode == b.Mode && a.Distribution == b.Distribution && a.Pool == b.Pool
        && a.Owners.SequenceEqual(b.Owners) && a.Nodes.SequenceEqual(b.Nodes)
        && (a.Communities ?? []).SequenceEqual(b.Communities ?? []) && a.LocalPreference == b.LocalPreference;

    /// <summary>
    /// A claim whose spec is newer than this controller's last write was edited by someone else
    /// (by hand, or a tool): it is put back, and a log line and a Warning Event say what was undone
    /// (issue 11). One at an older generation is only the informer being behind.
    /// </summary>
    private void ReportUndone(IpClaim existing)
    {
        var name = existing.Metadata.Name;
        if (!_written.TryGetValue(name, out var mine) || (existing.Metadata.Generation ?? 0) <= mine.Generation)
        {
            return;
        }

        var undone = Diff(existing.Spec, mine.Spec);
        if (undone.Length == 0)
        {
            return;
        }

        LogUndone(logger, name, undone);
        var target = EventRecorder.RefTo(existing);
        target.ApiVersion ??= $"{ExtipApi.Group}/{ExtipApi.Version}";
        target.Kind ??= "IPClaim";
        target.NamespaceProperty = options.Namespace;
        events.Warning(target, "ClaimRestored", $"IPClaim {name}: put back {undone} (changed outside the controller; the controller alone writes IPClaims)");
    }

    /// <summary>The fields that differ, each as "spec.field was → put back to".</summary>
    private static string Diff(IpClaimSpecModel edited, IpClaimSpecModel mine)
    {
        var parts = new List<string>();
        void Field(string field, string a, string b)
        {
            if (a != b)
            {
                parts.Add($"spec.{field} {a} → {b}");
            }
        }

        static string L(IEnumerable<string>? l) => $"[{string.Join(",", l ?? [])}]";
        Field("address", edited.Address, mine.Address);
        Field("prefixLength", edited.PrefixLength.ToString(System.Globalization.CultureInfo.InvariantCulture), mine.PrefixLength.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Field("interface", edited.Interface, mine.Interface);
        Field("mode", edited.Mode, mine.Mode);
        Field("distribution", edited.Distribution ?? "", mine.Distribution ?? "");
        Field("pool", edited.Pool ?? "", mine.Pool ?? "");
        Field("owners", L(edited.Owners), L(mine.Owners));
        Field("nodes", L(edited.Nodes), L(mine.Nodes));
        Field("communities", L(edited.Communities), L(mine.Communities));
        Field("localPreference", edited.LocalPreference?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "", mine.LocalPreference?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "");
        return string.Join(", ", parts);
    }

    private static long GenerationOf(IpClaim written) => written.Metadata?.Generation ?? 0;

    private async Task CreateAsync(string name, IpClaimSpecModel spec, CancellationToken ct)
    {
        var claim = new IpClaim { Metadata = new V1ObjectMeta { Name = name, Labels = spec.Pool is null ? null : new Dictionary<string, string> { [ExtipApi.PoolLabel] = spec.Pool } }, Spec = spec };
        try
        {
            var written = await client.CreateAsync(ApiPath.Extip(IpClaim.Plural), claim, ct);
            _written[name] = (GenerationOf(written), spec);
            metrics.ClaimWrites.WithLabels("create").Inc();
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Conflict)
        {
            // The informer is behind; the next sync sees the claim and updates it.
            passes.RequestClaims();
        }
    }

    private async Task ReplaceAsync(IpClaim existing, IpClaimSpecModel spec, CancellationToken ct)
    {
        // A JSON patch replacing the whole spec: fields the new spec drops go away too.
        var patch = $$"""[{"op":"replace","path":"/spec","value":{{ExtipJson.Serialize(spec)}}}]""";
        var written = await client.PatchAsync<IpClaim>(ApiPath.Extip(IpClaim.Plural, existing.Metadata.Name), new V1Patch(patch, V1Patch.PatchType.JsonPatch), ct);
        _written[existing.Metadata.Name] = (GenerationOf(written), spec);
        metrics.ClaimWrites.WithLabels("update").Inc();
    }

    private async Task DeleteAsync(string name, CancellationToken ct)
    {
        try
        {
            _written.TryRemove(name, out _);
            await client.DeleteAsync(ApiPath.Extip(IpClaim.Plural, name), ct);
            metrics.ClaimWrites.WithLabels("delete").Inc();
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
        {
        }
    }

    private static async Task RunBoundedAsync(List<Func<Task>> writes, int parallel, CancellationToken ct)
    {
        if (writes.Count == 0)
        {
            return;
        }

        var next = -1;
        var failures = new List<Exception>();
        await Task.WhenAll(Enumerable.Range(0, Math.Min(parallel, writes.Count)).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < writes.Count)
            {
                try
                {
                    await writes[i]();
                }
                catch (Exception e) when (e is HttpOperationException or HttpRequestException or IOException)
                {
                    lock (failures)
                    {
                        failures.Add(e);
                    }
                }
            }
        }));
        ct.ThrowIfCancellationRequested();
        if (failures.Count > 0)
        {
            throw new AggregateException($"{failures.Count} of {writes.Count} IPClaim writes failed", failures);
        }
    }
}

/// <summary>A held address as the claim reconciler sees it, with its owners' traffic policies.</summary>
internal sealed record ClaimSource(Address Address, string? Pool, int PrefixLength, IReadOnlyList<Owner> Owners);

internal sealed record Owner(ServiceKey Key, TrafficPolicy Policy);
