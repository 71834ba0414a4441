using System.Globalization;
using Extip.Core.Pools;
using Extip.Kubernetes.Client;
using Extip.Kubernetes.Events;
using Extip.Controller.Metrics;
using Extip.Kubernetes.Models;
using k8s;
using k8s.Models;

namespace Extip.Controller.Reconcilers;

/// <summary>
/// Pool status: capacity and use per family, and conditions Ready, Invalid, Overlap and
/// Exhausted with messages naming the problem. Written only when it changes; an invalid or
/// overlapping pool also gets a Warning Event.
/// </summary>
internal sealed class PoolStatusReconciler(IKubernetes client, ClusterView view, ControllerOptions options, ControllerMetrics metrics, IEventSink events, AllocationState allocation)
{
    private readonly Dictionary<string, string> _warned = new(StringComparer.Ordinal);

    public async Task SyncAsync(CancellationToken ct)
    {
        var (usage, pools) = allocation.PoolState();
        foreach (var pool in view.Pools.Items.ToList())
        {
            var name = pool.Metadata.Name;
            var u = usage.FirstOrDefault(x => x.Pool == name);
            var problems = pools.Problems.Where(p => p.Pool == name).ToList();
            var status = new IpPoolStatusModel
            {
                CapacityIPv4 = (u?.CapacityV4 ?? 0).ToString(CultureInfo.InvariantCulture),
                InUseIPv4 = u?.InUseV4 ?? 0,
                CapacityIPv6 = (u?.CapacityV6 ?? 0).ToString(CultureInfo.InvariantCulture),
                InUseIPv6 = u?.InUseV6 ?? 0,
                ReservedIPv4 = u?.ReservedV4 ?? 0,
                ReservedIPv6 = u?.ReservedV6 ?? 0,
            };
            if (u is not null)
            {
                metrics.PoolCapacity.WithLabels(name, "IPv4").Set((double)u.CapacityV4);
                metrics.PoolCapacity.WithLabels(name, "IPv6").Set((double)u.CapacityV6);
                metrics.PoolInUse.WithLabels(name, "IPv4").Set(u.InUseV4);
                metrics.PoolInUse.WithLabels(name, "IPv6").Set(u.InUseV6);
            }

            var invalid = problems.FirstOrDefault(p => p.Condition == PoolCondition.Invalid);
            var overlap = problems.FirstOrDefault(p => p.Condition == PoolCondition.Overlap);
            var exhausted = u is not null && (u.ExhaustedV4 || u.ExhaustedV6);
            var usable = pools.ByName.ContainsKey(name);

            // Serving its last valid spec (DESIGN.md, "Last good configuration") is not Ready:
            // the spec as written is not what runs.
            var fallback = problems.FirstOrDefault(p => !p.Disabled && p.Message.Contains("serving the last valid spec", StringComparison.Ordinal));
            var ready = usable && fallback is null;
            if (allocation.LastValidPool(name) is { } last)
            {
                status.LastValidSpec = last.Json;
                status.LastValidGeneration = last.Generation;
            }

            status.Conditions =
            [
                Condition("Ready", ready, ready ? "Usable" : fallback is not null ? "ServingLastValidSpec" : invalid is not null ? "Invalid" : "Overlap",
                    ready ? "addresses are being handed out" : (fallback ?? invalid ?? overlap)?.Message ?? "not usable", pool),
                Condition("Invalid", invalid is not null, invalid is not null ? "InvalidSpec" : "Valid", invalid?.Message ?? string.Empty, pool),
                Condition("Overlap", overlap is not null, overlap is not null ? "Overlap" : "NoOverlap", overlap?.Message ?? string.Empty, pool),
                Condition("Exhausted", exhausted, exhausted ? "NoFreeAddress" : "FreeAddresses",
                    exhausted ? $"no free {(u!.ExhaustedV4 ? "IPv4" : "IPv6")} address ({(u.ExhaustedV4 ? u.InUseV4 : u.InUseV6)} in use, {(u.ExhaustedV4 ? u.ReservedV4 : u.ReservedV6)} kept for deleted Services)" : string.Empty, pool),
            ];
            Conditions.KeepTransitions(status.Conditions, pool.Status?.Conditions);
            if (!Same(status, pool.Status))
            {
                var patch = ExtipJson.Serialize(new { status });
                if (status.LastValidSpec is null && pool.Status?.LastValidSpec is not null)
                {
                    // The pool is out of service: its old last valid spec must not come back after a restart.
                    var node = System.Text.Json.Nodes.JsonNode.Parse(patch)!;
                    node["status"]!["lastValidSpec"] = null;
                    node["status"]!["lastValidGeneration"] = null;
                    patch = node.ToJsonString();
                }

                await client.PatchAsync(ApiPath.Extip(IpPool.Plural, name, "status"), new V1Patch(patch, V1Patch.PatchType.MergePatch), ct);
            }

            var problemText = string.Join("\n", problems.Select(p => p.Message));
            if (problemText.Length > 0 && _warned.GetValueOrDefault(name) != problemText)
            {
                var target = EventRecorder.RefTo(pool);
                target.NamespaceProperty = options.Namespace;
                foreach (var p in problems)
                {
                    events.Warning(target, p.Condition.ToString(), $"IPPool {name}: {p.Message}");
                }
            }

            _warned[name] = problemText;
        }
    }

    private Condition Condition(string type, bool on, string reason, string message, IpPool pool) => new()
    {
        Type = type,
        Status = on ? "True" : "False",
        Reason = reason,
        Message = message,
        LastTransitionTime = options.Time.GetUtcNow().UtcDateTime,
        ObservedGeneration = pool.Metadata.Generation,
    };

    private static bool Same(IpPoolStatusModel a, IpPoolStatusModel? b) =>
        b is not null && a.LastValidSpec == b.LastValidSpec && a.LastValidGeneration == b.LastValidGeneration && a.CapacityIPv4 == b.CapacityIPv4 && a.CapacityIPv6 == b.CapacityIPv6 && a.InUseIPv4 == b.InUseIPv4 && a.InUseIPv6 == b.InUseIPv6 && a.ReservedIPv4 == b.ReservedIPv4 && a.ReservedIPv6 == b.ReservedIPv6
        && Conditions.Same(a.Conditions, b.Conditions);
}
