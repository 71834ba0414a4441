using Extip.Core.Addresses;

namespace Extip.Core.Allocation;

/// <summary>
/// Explicit requests win (DESIGN.md, "Explicit requests win"; issue 11). An address a Service
/// names (<c>loadBalancerIP</c>, the addresses annotation, <c>spec.externalIPs</c>) and may
/// have is never given automatically to another Service while the naming one exists; one given
/// before the naming Service was seen is taken back. Between two explicit requests the older
/// Service wins: creation time, then UID. So the outcome does not depend on which event, or
/// which worker, came first. A newer Service never takes an address from an older one.
/// </summary>
public sealed partial class Allocator
{
    /// <summary>For each Service: its request and the addresses it names and may have.</summary>
    private readonly Dictionary<ServiceKey, (ServiceRequest Request, Address[] Names)> _namesOf = [];

    /// <summary>For each named address: the Services naming it.</summary>
    private readonly Dictionary<Address, List<ServiceKey>> _named = [];

    /// <summary>Holders to take an address from once the current decision is committed.</summary>
    private readonly List<(Holding Holder, Address Address)> _displace = [];

    /// <summary>
    /// Records what the Service names. Only addresses it may have count (inside a usable pool that
    /// serves it, or an external IP the policy allows): a request that would be refused anyway
    /// never moves anybody.
    /// </summary>
    private void Name(ServiceRequest req)
    {
        var names = new List<Address>();
        if (req.WantsLoadBalancer)
        {
            foreach (var text in req.RequestedAddresses)
            {
                if (Address.TryParse(text.Trim(), out var a) && ReservedAddresses.Of(a) is null
                    && _pools.Find(a) is { } pool && pool.Serves(req.Key.Namespace, req.NamespaceLabels, req.Labels)
                    && (req.RequestedPool is null || req.RequestedPool == pool.Name))
                {
                    names.Add(a);
                }
            }
        }

        foreach (var text in req.ExternalIPs)
        {
            if (Address.TryParse(text, out var a) && ReservedAddresses.Of(a) is null && ExternalAllowed(a, req))
            {
                names.Add(a);
            }
        }

        Unname(req.Key);
        if (names.Count == 0)
        {
            return;
        }

        var distinct = names.Distinct().ToArray();
        _namesOf[req.Key] = (req, distinct);
        foreach (var a in distinct)
        {
            if (!_named.TryGetValue(a, out var list))
            {
                _named[a] = list = [];
            }

            list.Add(req.Key);
        }
    }

    private void Unname(ServiceKey key)
    {
        if (!_namesOf.Remove(key, out var old))
        {
            return;
        }

        foreach (var a in old.Names)
        {
            if (_named.TryGetValue(a, out var list))
            {
                list.Remove(key);
                if (list.Count == 0)
                {
                    _named.Remove(a);
                }
            }
        }
    }

    private bool ExternalAllowed(Address a, ServiceRequest req)
    {
        if (_options.ExternalIPs == ExternalIpPolicy.Deny)
        {
            return false;
        }

        var pool = _pools.Find(a);
        return _options.ExternalIPs == ExternalIpPolicy.Any
            || (pool is not null && pool.Spec.AllowExternalIPs && pool.Serves(req.Key.Namespace, req.NamespaceLabels, req.Labels));
    }

    private bool Names(ServiceKey key, Address a) =>
        _namesOf.TryGetValue(key, out var n) && Array.IndexOf(n.Names, a) >= 0;

    /// <summary>
    /// Another Service names the address and this one does not. With <paramref name="outranking"/>,
    /// only a namer that would take it from this Service counts (one not younger): a newer
    /// Service naming an address never makes its holder give it up.
    /// </summary>
    private bool NamedByOther(Address a, ServiceRequest req, bool outranking = false)
    {
        if (!_named.TryGetValue(a, out var namers) || Names(req.Key, a))
        {
            return false;
        }

        foreach (var n in namers)
        {
            if (n != req.Key && (!outranking || NotYounger(_namesOf[n].Request, req)))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// May the request (which names <paramref name="a"/>) take it from holder <paramref name="h"/>?
    /// A holder that got it automatically gives it up to a Service not younger than itself (created
    /// in the same second or before: applied together, the explicit request wins whatever the order
    /// of events); one that named it too gives it up to an older Service only. A newer Service never
    /// takes an address from an older one (CVE-2020-8554: no hijack by naming an address).
    /// </summary>
    private bool Preempts(ServiceRequest req, Holding h, Address a) =>
        Names(req.Key, a) && (Names(h.Key, a) ? Older(req, h.Request) : NotYounger(req, h.Request));

    /// <summary>Created before, or in the same second with a lower UID; unknown times never win.</summary>
    internal static bool Older(ServiceRequest x, ServiceRequest y)
    {
        if (x.CreatedAt is not { } cx || y.CreatedAt is not { } cy)
        {
            return false;
        }

        return cx != cy ? cx < cy : x.Uid is not null && y.Uid is not null && string.CompareOrdinal(x.Uid, y.Uid) < 0;
    }

    /// <summary>Created before or at the same time (creation times have one-second resolution).</summary>
    private static bool NotYounger(ServiceRequest x, ServiceRequest y) =>
        x.CreatedAt is { } cx && y.CreatedAt is { } cy && cx <= cy;

    /// <summary>Takes the addresses the committed request won from their former holders; returns who lost one.</summary>
    private List<ServiceKey> Displace(Holding winner)
    {
        var lost = new List<ServiceKey>();
        foreach (var (h, a) in _displace)
        {
            if (h == winner || !_services.ContainsKey(h.Key)
                || !(Array.Exists(winner.LoadBalancer, x => x.Address == a) || Array.Exists(winner.External, x => x.Address == a)))
            {
                continue;
            }

            h.LoadBalancer = Array.FindAll(h.LoadBalancer, x => x.Address != a);
            h.External = Array.FindAll(h.External, x => x.Address != a);
            if (_addresses.TryGetValue(a, out var entry))
            {
                RemoveHolder(entry, h);
            }

            if (!lost.Contains(h.Key))
            {
                lost.Add(h.Key);
            }
        }

        _displace.Clear();
        return lost;
    }
}
