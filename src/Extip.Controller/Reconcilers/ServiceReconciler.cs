using Extip.Kubernetes.Client;
using System.Diagnostics;
using System.Text.Json.Nodes;
using Extip.Controller.Mapping;
using Extip.Core.Allocation;
using Extip.Kubernetes.Events;
using Extip.Kubernetes.Models;
using Extip.Kubernetes.Queues;
using Extip.Controller.Metrics;
using k8s;
using k8s.Models;

namespace Extip.Controller.Reconcilers;

/// <summary>
/// One Service: decide its addresses (under the allocator lock), then make the API say so —
/// status.loadBalancer.ingress for LoadBalancer Services, spec.externalIPs for opted-in ones,
/// the pool annotation — and tell the user through Events. Idempotent; a failed write is retried.
/// </summary>
internal sealed class ServiceReconciler(IKubernetes client, ClusterView view, ControllerOptions options, ControllerMetrics metrics, IEventSink events, AllocationState allocation, Passes passes, WorkQueue<ServiceKey> queue)
{
    private const string IpModeVip = "VIP";

    /// <summary>Whether the API server keeps <c>status.loadBalancer.ingress[].ipMode</c>: 1 yes, -1 no, 0 until a write shows it.</summary>
    private volatile int _ipModeServed;

    private readonly Dictionary<ServiceKey, string> _lastRefusals = [];
    private readonly Lock _refusalsGate = new();

    public async Task ReconcileAsync(ServiceKey key, CancellationToken ct)
    {
        var sw = Stopwatch.StartNew();
        var svc = view.Services.Get(key.ToString());
        if (svc is null)
        {
            Release(key);
            lock (_refusalsGate)
            {
                _lastRefusals.Remove(key);
            }

            return;
        }

        var ours = ServiceMapping.IsOurs(svc, options);
        AllocationResult result;
        if (!ours)
        {
            if (!allocation.Holds(key))
            {
                return;
            }

            result = Assign(ServiceMapping.ToRequest(svc, view.NamespaceLabels(key.Namespace), [], options) with { WantsLoadBalancer = false, ExternalIPs = [] });
        }
        else
        {
            result = Assign(ServiceMapping.ToRequest(svc, view.NamespaceLabels(key.Namespace), AcceptedExternalIps(view, key), options));
        }

        try
        {
            await WriteAsync(svc, result, ct);
        }
        catch when (result.Changed)
        {
            // Not written yet: the retry reports it, as the user has not seen it.
            allocation.ReportLater(key);
            throw;
        }

        Report(svc, key, result);
        metrics.ReconcileSeconds.WithLabels("service").Observe(sw.Elapsed.TotalSeconds);
    }

    private AllocationResult Assign(ServiceRequest request)
    {
        var r = allocation.Assign(request);
        if (r.Changed)
        {
            passes.HeldChanged();
        }

        // Services that lost an address to this one's explicit request get another (or are refused).
        foreach (var d in r.Displaced)
        {
            queue.Add(d);
        }

        return r;
    }

    private void Release(ServiceKey key)
    {
        if (allocation.Release(key))
        {
            passes.HeldChanged();
        }
    }

    /// <summary>External IPs of the Service that its IPClaims show accepted: a reload keeps them first.</summary>
    public static IReadOnlyCollection<string> AcceptedExternalIps(ClusterView view, ServiceKey key)
    {
        if (view.Services.Get(key.ToString())?.Spec?.ExternalIPs is not { Count: > 0 })
        {
            return [];
        }

        var owner = key.ToString();
        return view.Claims.Items.Where(c => c.Spec.Owners.Contains(owner)).Select(c => c.Spec.Address).ToHashSet(StringComparer.Ordinal);
    }

    private async Task WriteAsync(V1Service svc, AllocationResult result, CancellationToken ct)
    {
        var ns = svc.Metadata.NamespaceProperty;
        var name = svc.Metadata.Name;
        var lb = result.LoadBalancer.Select(a => a.Address.ToString()).ToList();
        var pools = string.Join(",", result.LoadBalancer.Concat(result.ExternalIPs).Select(a => a.Pool).OfType<string>().Distinct());
        var annotations = svc.Metadata.Annotations ?? new Dictionary<string, string>();
        var optIn = ServiceMapping.IsOptIn(svc);

        // Every write names the version it was decided on: a write decided on an older view (a
        // previous leader's last request landing late, or ours racing it) fails with a conflict
        // and is decided again on what the API now shows, instead of overwriting it.
        var version = svc.Metadata.ResourceVersion;
        if (svc.Spec?.Type == "LoadBalancer" || (svc.Status?.LoadBalancer?.Ingress?.Count ?? 0) > 0)
        {
            var want = svc.Spec?.Type == "LoadBalancer" && ServiceMapping.WantsPoolAddress(svc, options) ? lb : [];
            var have = (svc.Status?.LoadBalancer?.Ingress ?? []).Select(i => i.Ip).ToList();

            // ipMode VIP (the address is delivered to the node as the destination, as extip does):
            // written where the API has the field; a server that drops it (before v1.29) is
            // not asked again, or every pass would write.
            var modeMissing = want.Count > 0 && _ipModeServed >= 0 && (svc.Status?.LoadBalancer?.Ingress ?? []).Any(i => i.IpMode != IpModeVip);
            if ((!have.SequenceEqual(want) || modeMissing) && (want.Count > 0 || ServiceMapping.WantsPoolAddress(svc, options) || have.All(h => allocation.WasOurs(h))))
            {
                var body = new JsonObject
                {
                    ["metadata"] = new JsonObject { ["resourceVersion"] = version },
                    ["status"] = new JsonObject
                    {
                        ["loadBalancer"] = new JsonObject { ["ingress"] = new JsonArray(want.Select(ip => (JsonNode)new JsonObject { ["ip"] = ip, ["ipMode"] = IpModeVip }).ToArray()) },
                    },
                };
                var written = await client.PatchAsync<V1Service>(ApiPath.Core("services", ns, name, "status"), new V1Patch(body.ToJsonString(), V1Patch.PatchType.MergePatch), ct);
                version = written.Metadata.ResourceVersion;
                if (want.Count > 0)
                {
                    _ipModeServed = written.Status?.LoadBalancer?.Ingress?.Any(i => i.IpMode == IpModeVip) == true ? 1 : -1;
                }
            }
        }

        var patch = new Dictionary<string, object?>();
        var annPatch = new Dictionary<string, string?>();
        var currentPool = annotations.Value(ExtipApi.AssignedPoolAnnotation);
        if ((pools.Length > 0 ? pools : null) != currentPool)
        {
            annPatch[ExtipApi.AssignedPoolAnnotation] = pools.Length > 0 ? pools : null;
        }

        var removed = Hijacks(svc, result);
        if (removed.Count > 0)
        {
            var before = annotations.Value(ExtipApi.RemovedExternalIpsAnnotation)?.Split(',', StringSplitOptions.RemoveEmptyEntries) ?? [];
            annPatch[ExtipApi.RemovedExternalIpsAnnotation] = string.Join(",", before.Concat(removed).Distinct());
        }

        if (optIn || annotations.ContainsKey(ExtipApi.AllocatedAnnotation) || removed.Count > 0)
        {
            var previouslyAllocated = ServiceMapping.Allocated(svc);
            var userExternal = (svc.Spec?.ExternalIPs ?? []).Where(ip => !previouslyAllocated.Contains(ip) && !removed.Contains(ip)).ToList();
            var nowAllocated = optIn ? lb : [];
            var externalIps = userExternal.Concat(nowAllocated).Distinct().ToList();
            if (!externalIps.SequenceEqual(svc.Spec?.ExternalIPs ?? []))
            {
                patch["spec"] = new Dictionary<string, object?> { ["externalIPs"] = externalIps.Count > 0 ? externalIps : null };
            }

            var allocatedText = string.Join(",", nowAllocated);
            if (allocatedText != string.Join(",", previouslyAllocated))
            {
                annPatch[ExtipApi.AllocatedAnnotation] = allocatedText.Length > 0 ? allocatedText : null;
            }
        }

        if (patch.Count > 0 || annPatch.Count > 0)
        {
            patch["metadata"] = annPatch.Count > 0
                ? new Dictionary<string, object?> { ["resourceVersion"] = version, ["annotations"] = annPatch }
                : new Dictionary<string, object?> { ["resourceVersion"] = version };
            await client.PatchAsync(ApiPath.Core("services", ns, name), new V1Patch(ExtipJson.Serialize(patch), V1Patch.PatchType.MergePatch), ct);
        }
    }

    /// <summary>
    /// External IPs of the Service, as written in its spec, refused because another Service holds
    /// them: those the controller removes (issue 11; kube-proxy would program them anyway).
    /// </summary>
    private List<string> Hijacks(V1Service svc, AllocationResult result)
    {
        if (!options.RemoveConflictingExternalIPs)
        {
            return [];
        }

        var conflicting = result.Refusals
            .Where(r => r.Field == Allocator.ExternalIPsField && r.Reason is RefusalReason.AddressInUse or RefusalReason.SharingConflict)
            .Select(r => Core.Addresses.Address.TryParse(r.Value, out var a) ? a : (Core.Addresses.Address?)null)
            .OfType<Core.Addresses.Address>()
            .ToHashSet();
        return (svc.Spec?.ExternalIPs ?? []).Where(ip => Core.Addresses.Address.TryParse(ip, out var a) && conflicting.Contains(a)).ToList();
    }

    private void Report(V1Service svc, ServiceKey key, AllocationResult result)
    {
        var target = EventRecorder.RefTo(svc);
        target.Kind = "Service";
        target.ApiVersion = "v1";
        if (result.Changed && (result.LoadBalancer.Count > 0 || result.ExternalIPs.Count > 0))
        {
            var what = string.Join(", ", result.LoadBalancer.Concat(result.ExternalIPs).Select(a => a.Pool is null ? a.Address.ToString() : $"{a.Address} (pool {a.Pool})"));
            events.Normal(target, "AddressAssigned", $"Assigned {what}");
            foreach (var a in result.LoadBalancer.Concat(result.ExternalIPs))
            {
                metrics.Allocations.WithLabels(a.Pool ?? "").Inc();
            }
        }
        else if (result.Changed)
        {
            events.Normal(target, "AddressReleased", "Released its external addresses");
        }

        var refusals = string.Join("\n", result.Refusals.Select(r => r.Message));
        bool fresh;
        lock (_refusalsGate)
        {
            fresh = refusals.Length > 0 && _lastRefusals.GetValueOrDefault(key) != refusals;
            if (refusals.Length > 0)
            {
                _lastRefusals[key] = refusals;
            }
            else
            {
                _lastRefusals.Remove(key);
            }
        }

        if (fresh)
        {
            foreach (var r in result.Refusals)
            {
                events.Warning(target, r.Reason.ToString(), r.Message);
                metrics.Refusals.WithLabels(r.Reason.ToString()).Inc();
            }

            foreach (var ip in Hijacks(svc, result))
            {
                events.Warning(target, "ExternalIPRemoved",
                    $"spec.externalIPs: removed {ip}: another Service holds it, and kube-proxy would send its traffic here (CVE-2020-8554); recorded in annotation {ExtipApi.RemovedExternalIpsAnnotation}");
            }
        }
    }
}
