using Extip.Core.Addresses;
using Extip.Core.Pools;

namespace Extip.Core.Allocation;

/// <summary>
/// Whether a Service may name an address in <c>spec.externalIPs</c> at all, before any question
/// of who holds it (CVE-2020-8554): the allocator's rule, and the admission webhook's at the door.
/// </summary>
public static class ExternalIpRules
{
    /// <summary>Why <paramref name="text"/> may not be an external IP of a Service in <paramref name="ns"/>; null when it may.</summary>
    public static Refusal? Refusal(string text, ExternalIpPolicy policy, PoolSet pools, string ns, IReadOnlyDictionary<string, string> namespaceLabels, IReadOnlyDictionary<string, string> serviceLabels)
    {
        ArgumentNullException.ThrowIfNull(pools);
        if (!Address.TryParse(text, out var a, out var why))
        {
            return new(RefusalReason.MalformedAddress, text, $"spec.externalIPs: \"{text}\" is not an IP address: {why}");
        }

        if (ReservedAddresses.Of(a) is { } block)
        {
            return new(RefusalReason.ReservedAddress, text, $"spec.externalIPs: {a} is in {block}, which is never routed to a Service");
        }

        if (policy == ExternalIpPolicy.Deny)
        {
            return new(RefusalReason.ExternalIPNotAllowed, text, $"spec.externalIPs: {a} refused: this controller denies all external IPs (--external-ips=deny)");
        }

        var pool = pools.Find(a);
        if (policy == ExternalIpPolicy.Pools && (pool is null || !pool.Spec.AllowExternalIPs || !pool.Serves(ns, namespaceLabels, serviceLabels)))
        {
            return new(RefusalReason.ExternalIPNotAllowed, text, pool is null
                ? $"spec.externalIPs: {a} is not inside any IPPool; only pools with allowExternalIPs may be used (CVE-2020-8554)"
                : !pool.Spec.AllowExternalIPs
                    ? $"spec.externalIPs: {a} is in pool \"{pool.Name}\", which does not set allowExternalIPs (CVE-2020-8554)"
                    : $"spec.externalIPs: {a} is in pool \"{pool.Name}\", which does not serve Services in namespace \"{ns}\"");
        }

        return null;
    }
}
