using System.Text.Json.Nodes;
using Extip.Agent.Bgp;
using Extip.Controller.Mapping;
using Extip.Core.Addresses;
using Extip.Core.Allocation;
using Extip.Core.Pools;
using Extip.Kubernetes.Admission;
using Extip.Kubernetes.Models;
using k8s;
using k8s.Models;

namespace Extip.Controller.Webhook;

/// <summary>
/// What the webhook refuses at the door (issue 11). The same rules as the controller and the
/// agents apply themselves, which keep serving the last valid configuration whatever gets in
/// (the webhook may be down: failurePolicy Ignore). Pure functions of the request and a snapshot.
/// </summary>
internal static class AdmissionRules
{
    /// <summary>An IPPool: its own errors, or its overlap with another pool.</summary>
    public static AdmissionVerdict Pool(AdmissionRequest r, IEnumerable<IpPool> others)
    {
        if (r.Object is not { } obj || SpecUnchanged(r))
        {
            return AdmissionVerdict.Allow;
        }

        var pool = ExtipJson.Deserialize<IpPool>(obj.ToJsonString());
        pool.Spec ??= new IpPoolSpecModel();
        var errors = PoolSet.CheckAgainst(PoolMapping.ToSpec(pool), others.Where(o => o.Metadata.Name != pool.Metadata.Name).Select(PoolMapping.ToSpec));
        return errors.Count == 0 ? AdmissionVerdict.Allow : AdmissionVerdict.Deny(string.Join("; ", errors), 422);
    }

    /// <summary>A BGPPeer: the agents' own rules (the Secret aside: it may come later).</summary>
    public static AdmissionVerdict Peer(AdmissionRequest r)
    {
        if (r.Object is not { } obj || SpecUnchanged(r))
        {
            return AdmissionVerdict.Allow;
        }

        var peer = ExtipJson.Deserialize<BgpPeer>(obj.ToJsonString());
        if (peer.Spec is null)
        {
            return AdmissionVerdict.Deny("spec: Required value", 422);
        }

        var (_, error) = PeerConfig.Build(peer, 1, _ => (null, null));
        return error is null ? AdmissionVerdict.Allow : AdmissionVerdict.Deny(error, 422);
    }

    /// <summary>
    /// A Service's new <c>spec.externalIPs</c>: refused outside pools that allow them (by the
    /// controller's <c>--external-ips</c> policy), and when another namespace's Service holds or
    /// names the address (CVE-2020-8554). The refusal never names the other Service.
    /// </summary>
    public static AdmissionVerdict Service(AdmissionRequest r, ExternalIpPolicy policy, PoolSet pools, IReadOnlyDictionary<string, string> namespaceLabels, IEnumerable<V1Service> services)
    {
        if (r.Object is not { } obj)
        {
            return AdmissionVerdict.Allow;
        }

        var before = ExternalIPs(r.OldObject).ToHashSet(StringComparer.Ordinal);
        var added = ExternalIPs(obj).Where(a => !before.Contains(a)).Distinct(StringComparer.Ordinal).ToList();
        if (added.Count == 0)
        {
            return AdmissionVerdict.Allow;
        }

        var labels = (obj["metadata"]?["labels"] as JsonObject ?? [])
            .ToDictionary(kv => kv.Key, kv => kv.Value?.ToString() ?? string.Empty, StringComparer.Ordinal);
        var ns = r.Namespace;
        var errors = new List<string>();
        var heldElsewhere = HeldByOtherNamespaces(services, ns);
        foreach (var text in added)
        {
            if (ExternalIpRules.Refusal(text, policy, pools, ns, namespaceLabels, labels) is { } refusal)
            {
                errors.Add(refusal.Message);
            }
            else if (heldElsewhere.Contains(Address.Parse(text)))
            {
                errors.Add($"spec.externalIPs: {Address.Parse(text)} is in use by a Service in another namespace; an address is never shared across namespaces (CVE-2020-8554)");
            }
        }

        return errors.Count == 0 ? AdmissionVerdict.Allow : AdmissionVerdict.Deny(string.Join("; ", errors));
    }

    /// <summary>Addresses Services of other namespaces hold (their status) or name (spec.externalIPs, requested addresses).</summary>
    private static HashSet<Address> HeldByOtherNamespaces(IEnumerable<V1Service> services, string ns)
    {
        var held = new HashSet<Address>();
        foreach (var s in services.Where(s => s.Metadata.NamespaceProperty != ns))
        {
            var texts = (s.Spec?.ExternalIPs ?? [])
                .Concat((s.Status?.LoadBalancer?.Ingress ?? []).Select(i => i.Ip))
                .Concat(s.Spec?.LoadBalancerIP is { Length: > 0 } lb ? [lb] : []);
            foreach (var t in texts)
            {
                if (t is not null && Address.TryParse(t, out var a))
                {
                    held.Add(a);
                }
            }
        }

        return held;
    }

    private static IEnumerable<string> ExternalIPs(JsonObject? service) =>
        (service?["spec"]?["externalIPs"] as JsonArray ?? []).Select(v => v?.ToString() ?? string.Empty);

    /// <summary>An update that leaves the spec alone (labels, finalizers) is never refused: only what changes is judged.</summary>
    private static bool SpecUnchanged(AdmissionRequest r) =>
        r.OldObject is { } old && JsonNode.DeepEquals(old["spec"], r.Object?["spec"]);
}
