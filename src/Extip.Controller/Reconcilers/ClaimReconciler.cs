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
using Microsoft.Extensions.Logging;

namespace Extip.Controller.Reconcilers;

/// <summary>
/// Keeps one IPClaim per held address equal to what the scheduler computes from live agents,
/// node labels, pool node selectors, the exclusion label and ready endpoints (for
/// externalTrafficPolicy Local), and deletes claims no Service wants. Returns when it next
/// needs to run (the next agent Lease expiry).
/// </summary>
internal sealed partial class ClaimReconciler(ControllerSession session)
{
    private HashSet<string> _lastLive = new(StringComparer.Ordinal);
    private HashSet<string> _lastSettling = new(StringComparer.Ordinal);
    private HashSet<string> _lastQuiet = new(StringComparer.Ordinal);

    /// <summary>Per claim: the generation and spec of this controller's last write, to tell another writer's edit from an informer that is behind.</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, (long Generation, IpClaimSpecModel Spec)> _written = new(StringComparer.Ordinal);

    /// <summary>
    /// Cheap: whether the set of live agents differs from the last pass's, and when the next
    /// Lease runs out. A timer that fires for a Lease renewed since needs no pass over the claims.
    /// </summary>
    public bool LivenessChanged(out DateTimeOffset? nextExpiry)
    {
        var now = session.Options.Time.GetUtcNow();
        var (live, settling, quiet) = LiveAgents(now, out nextExpiry);
        var (outOfService, signalNext) = session.Signals.Judge(live, session.View.Nodes.Get);
        if (signalNext is { } wait)
        {
            var at = now + wait;
            nextExpiry = nextExpiry is { } e && e < at ? e : at;
        }

        return _rebalancePending || !live.SetEquals(_lastLive) || !settling.SetEquals(_lastSettling) || !quiet.SetEquals(_lastQuiet)
            || !outOfService.Keys.ToHashSet(StringComparer.Ordinal).SetEquals(_lastOut.Keys);
    }

    /// <summary>A gradual rebalancing has steps to go.</summary>
    private bool _rebalancePending;

    /// <summary>
    /// The live agents, those of them in their hold-down and those gone quiet; and when to look
    /// again: the next Lease expiry, the next node to settle, and while some agent is quiet, soon
    /// (it may renew, and what waited for it can move).
    /// </summary>
    private (HashSet<string> Live, HashSet<string> Settling, HashSet<string> Quiet) LiveAgents(DateTimeOffset now, out DateTimeOffset? nextExpiry)
    {
        var judged = session.Agents.Judge();

        // A draining agent (stopping) still holds its addresses, but is given none: its claims
        // move now, make-before-break, while it hands them over.
        var live = new HashSet<string>(judged.Live, StringComparer.Ordinal);
        live.ExceptWith(judged.Draining);
        session.Damping.Observe(live);
        var (settling, settles) = session.Damping.Settling();
        var quiet = new HashSet<string>(judged.Quiet, StringComparer.Ordinal);
        quiet.IntersectWith(live);
        var next = judged.NextExpiry;
        foreach (var t in new[] { settles, quiet.Count > 0 ? QuietRecheck : (TimeSpan?)null })
        {
            next = t is { } x && (next is null || x < next) ? x : next;
        }

        nextExpiry = next is { } left ? now + left : null;
        session.Metrics.Disruption.Set(judged.Disruption is null ? 0 : 1);
        if (judged.Disruption is { Started: true } d)
        {
            session.Metrics.Disruptions.Inc();
            var grace = session.Options.Disruption.Grace is { } g ? $"{g.TotalSeconds:0.###} s" : "one Lease duration";
            var message = $"{d.Expired} of {d.Agents} agents' Leases ran out within {session.Options.Disruption.Window.TotalSeconds:0.###} s: a control-plane disruption, not dead nodes; no claim moves until it is over and the agents have had {grace} to renew";
            LogControlPlaneDisruption(session.Logger, message);
            session.Events.Warning(new V1ObjectReference
            {
                Kind = "Lease",
                ApiVersion = "coordination.k8s.io/v1",
                Name = "extip-controller",
                NamespaceProperty = session.Options.Namespace,
            }, "ControlPlaneDisruption", message);
        }

        var unconfirmed = judged.Unconfirmed.Count;
        if (unconfirmed != (int)session.Metrics.UnconfirmedExpiries.Value)
        {
            session.Metrics.UnconfirmedExpiries.Set(unconfirmed);
            if (unconfirmed > 0)
            {
                LogDisruption(session.Logger, string.Join(", ", judged.Unconfirmed));
            }
        }

        return (live, settling, quiet);
    }

    private Dictionary<string, string> _lastOut = new(StringComparer.Ordinal);

    /// <summary>A Warning Event on each Node newly taken out by its own signals, saying which.</summary>
    private void ReportOut(Dictionary<string, string> outOfService)
    {
        foreach (var (node, why) in outOfService.Where(kv => _lastOut.GetValueOrDefault(kv.Key) != kv.Value))
        {
            LogNodeOut(session.Logger, node, why);
            session.Events.Warning(new V1ObjectReference { Kind = "Node", ApiVersion = "v1", Name = node }, "NodeOutOfService", $"Node {node} holds no external address: {why}");
        }

        _lastOut = outOfService;
    }

    private HashSet<ServiceKey> _lastNoEndpoints = [];

    /// <summary>A Warning Event on each Local Service that newly has no ready endpoint on any node (its address withdrawn).</summary>
    private void ReportNoEndpoints(Dictionary<ServiceKey, string> services)
    {
        foreach (var (key, address) in services.Where(kv => !_lastNoEndpoints.Contains(kv.Key)))
        {
            session.Events.Warning(new V1ObjectReference { Kind = "Service", ApiVersion = "v1", Name = key.Name, NamespaceProperty = key.Namespace }, "NoReadyEndpoints",
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
            LogLinkDown(session.Logger, node, why);
            session.Events.Warning(new V1ObjectReference { Kind = "Node", ApiVersion = "v1", Name = node }, "LinkDown", $"Node {node} holds no address that needs the link: {why}");
        }

        foreach (var node in _lastDead.Keys.Where(n => !dead.ContainsKey(n)))
        {
            LogLinkBack(session.Logger, node);
        }

        _lastDead = dead;
    }

    [LoggerMessage(EventId = 334, Level = LogLevel.Warning, Message = "node {Node} holds no address that needs the link: {Why}")]
    private static partial void LogLinkDown(ILogger logger, string node, string why);

    [LoggerMessage(EventId = 335, Level = LogLevel.Information, Message = "node {Node}: its links are up again")]
    private static partial void LogLinkBack(ILogger logger, string node);

    [LoggerMessage(EventId = 333, Level = LogLevel.Warning, Message = "node {Node} holds no external address: {Why}")]
    private static partial void LogNodeOut(ILogger logger, string node, string why);

    /// <summary>How often liveness is judged again while some agent is quiet.</summary>
    private static readonly TimeSpan QuietRecheck = TimeSpan.FromMilliseconds(500);

    [LoggerMessage(EventId = 332, Level = LogLevel.Warning, Message = "{Message}")]
    private static partial void LogControlPlaneDisruption(ILogger logger, string message);

    [LoggerMessage(EventId = 331, Level = LogLevel.Warning, Message = "IPClaim {Name}: put back {Undone} (changed outside the controller)")]
    private static partial void LogUndone(ILogger logger, string name, string undone);

    [LoggerMessage(EventId = 330, Level = LogLevel.Warning, Message = "agents {Nodes}: their Leases ran out while no other agent was seen renewing (a control-plane disruption, not dead nodes): their claims stay until a renewal confirms it")]
    private static partial void LogDisruption(ILogger logger, string nodes);

    public async Task<DateTimeOffset?> SyncAsync(CancellationToken ct)
    {
        var sw = Stopwatch.StartNew();
        var now = session.Options.Time.GetUtcNow();
        var view = session.View;
        var (live, settling, quiet) = LiveAgents(now, out var nextExpiry);
        (_lastLive, _lastSettling, _lastQuiet) = (live, settling, quiet);

        // The IPNode labels say what this pass schedules on, even if its claim writes fail.
        session.AgentLabels.Observe(live);

        session.Metrics.LiveAgents.Set(live.Count);

        // A node Kubernetes says is out (taint, or not Ready past the grace) holds nothing, live agent or not.
        var (outOfService, signalNext) = session.Signals.Judge(live, view.Nodes.Get);
        if (signalNext is { } wait)
        {
            var at = now + wait;
            nextExpiry = nextExpiry is { } e && e < at ? e : at;
        }

        ReportOut(outOfService);
        var nodes = live.Where(n => !outOfService.ContainsKey(n)).Select(n => new NodeInfo(n, view.Nodes.Get(n)?.Metadata.Labels is { } l ? new Dictionary<string, string>(l) : new Dictionary<string, string>(), true)).ToList();
        var endpoints = ReadyEndpointNodes();
        var (held, pools) = session.Snapshot();
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
                a = Announcement.Of(pool, session.Options);
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
            RebalanceOnArrival = session.Options.RebalanceOnArrival,
            RebalanceShare = session.Options.RebalanceShare,
            Settling = settling,
            Quiet = quiet,
        }, out var unbalanced);
        if (unbalanced)
        {
            // The next rebalancing step: a pass soon, even if nothing else changes.
            var step = now + session.Options.RebalanceStep;
            nextExpiry = nextExpiry is { } n && n < step ? n : step;
            _rebalancePending = true;
        }
        else
        {
            _rebalancePending = false;
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

        await RunBoundedAsync(writes, session.Options.Workers, ct);
        session.Metrics.Claims.Set(specs.Count);
        session.Metrics.ReconcileSeconds.WithLabels("claims").Observe(sw.Elapsed.TotalSeconds);
        return nextExpiry;
    }

    private Dictionary<ServiceKey, HashSet<string>> ReadyEndpointNodes()
    {
        var byService = new Dictionary<ServiceKey, HashSet<string>>();
        foreach (var slice in session.View.EndpointSlices.Items)
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

        LogUndone(session.Logger, name, undone);
        var target = EventRecorder.RefTo(existing);
        target.ApiVersion ??= $"{ExtipApi.Group}/{ExtipApi.Version}";
        target.Kind ??= "IPClaim";
        target.NamespaceProperty = session.Options.Namespace;
        session.Events.Warning(target, "ClaimRestored", $"IPClaim {name}: put back {undone} (changed outside the controller; the controller alone writes IPClaims)");
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

    private static long GenerationOf(object written) =>
        ((System.Text.Json.JsonElement)written).TryGetProperty("metadata", out var m) && m.TryGetProperty("generation", out var g) && g.TryGetInt64(out var v) ? v : 0;

    private async Task CreateAsync(string name, IpClaimSpecModel spec, CancellationToken ct)
    {
        var claim = new IpClaim { Metadata = new V1ObjectMeta { Name = name, Labels = spec.Pool is null ? null : new Dictionary<string, string> { ["extip.io/pool"] = spec.Pool } }, Spec = spec };
        try
        {
            var written = await session.Client.CustomObjects.CreateClusterCustomObjectAsync(claim, ExtipApi.Group, ExtipApi.Version, IpClaim.Plural, cancellationToken: ct);
            _written[name] = (GenerationOf(written), spec);
            session.Metrics.ClaimWrites.WithLabels("create").Inc();
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Conflict)
        {
            // The informer is behind; the next sync sees the claim and updates it.
            session.RequestClaimSync();
        }
    }

    private async Task ReplaceAsync(IpClaim existing, IpClaimSpecModel spec, CancellationToken ct)
    {
        // A JSON patch replacing the whole spec: fields the new spec drops go away too.
        var patch = $$"""[{"op":"replace","path":"/spec","value":{{KubernetesJson.Serialize(spec)}}}]""";
        var written = await session.Client.CustomObjects.PatchClusterCustomObjectAsync(new V1Patch(patch, V1Patch.PatchType.JsonPatch), ExtipApi.Group, ExtipApi.Version, IpClaim.Plural, existing.Metadata.Name, cancellationToken: ct);
        _written[existing.Metadata.Name] = (GenerationOf(written), spec);
        session.Metrics.ClaimWrites.WithLabels("update").Inc();
    }

    private async Task DeleteAsync(string name, CancellationToken ct)
    {
        try
        {
            _written.TryRemove(name, out _);
            await session.Client.CustomObjects.DeleteClusterCustomObjectAsync(ExtipApi.Group, ExtipApi.Version, IpClaim.Plural, name, cancellationToken: ct);
            session.Metrics.ClaimWrites.WithLabels("delete").Inc();
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
